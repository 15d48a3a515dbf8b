// A presigned S3 GET (AWS Signature Version 4 in the query string), signed
// with WebCrypto: the page downloads a person's own archive object with
// their own temporary credentials as a navigation, so the bucket needs no
// CORS rule and S3 need not be in the page's connect-src. Held to AWS's
// documented example by tests/browser/presign.test.mjs.
const presignedGet = async ({ url, region, credentials, now = new Date(), expires = 60, query = {} }) => {
  const encoder = new TextEncoder();
  const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  const sha256 = async (text) => hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  const hmac = async (key, text) => {
    const raw = typeof key === "string" ? encoder.encode(key) : key;
    const imported = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return crypto.subtle.sign("HMAC", imported, encoder.encode(text));
  };
  // RFC 3986 as SigV4 wants it: everything but the unreserved characters.
  const escape = (text) => encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  const target = new URL(url);
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
  const day = stamp.slice(0, 8);
  const scope = `${day}/${region}/s3/aws4_request`;
  const params = {
    ...query,
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": `${credentials.accessKeyId}/${scope}`,
    "X-Amz-Date": stamp,
    "X-Amz-Expires": String(expires),
    "X-Amz-SignedHeaders": "host",
  };
  if (credentials.sessionToken) params["X-Amz-Security-Token"] = credentials.sessionToken;
  const canonicalQuery = Object.keys(params).sort()
    .map((name) => `${escape(name)}=${escape(params[name])}`).join("&");
  const path = target.pathname.split("/").map((part) => escape(decodeURIComponent(part))).join("/");
  const canonical = ["GET", path, canonicalQuery, `host:${target.host}`, "", "host", "UNSIGNED-PAYLOAD"].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", stamp, scope, await sha256(canonical)].join("\n");
  let key = await hmac("AWS4" + credentials.secretAccessKey, day);
  for (const part of [region, "s3", "aws4_request"]) key = await hmac(key, part);
  target.search = `${canonicalQuery}&X-Amz-Signature=${hex(await hmac(key, toSign))}`;
  return target.toString();
};
