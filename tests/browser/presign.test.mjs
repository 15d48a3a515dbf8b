// The page's SigV4 presigner (functions/greeting/src/presign.js), held to
// AWS's own documented example (Amazon S3 API Reference, "Authenticating
// Requests: Using Query Parameters": GET test.txt from examplebucket) and
// to a URL botocore's S3SigV4QueryAuth signed with a session token and a
// response-content-disposition, at a fixed time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

const source = await readFile(new URL("../../functions/greeting/src/presign.js", import.meta.url), "utf8");
const presignedGet = new Function(`${source}\nreturn presignedGet;`)();

test("signs AWS's documented example to AWS's signature", async () => {
  const url = new URL(await presignedGet({
    url: "https://examplebucket.s3.amazonaws.com/test.txt",
    region: "us-east-1",
    credentials: {
      accessKeyId: "AKIAIOSFODNN7EXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    },
    now: new Date("2013-05-24T00:00:00Z"),
    expires: 86400,
  }));
  assert.equal(url.searchParams.get("X-Amz-Credential"), "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request");
  assert.equal(
    url.searchParams.get("X-Amz-Signature"),
    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
  );
});

test("signs a session token and a download name as botocore does", async () => {
  const url = new URL(await presignedGet({
    url: "https://onboard-archive.s3.eu-west-1.amazonaws.com/users/3b9c1d2e-4f50-4a61-8b72-93a4b5c6d7e8.json",
    region: "eu-west-1",
    credentials: {
      accessKeyId: "ASIAEXAMPLEKEY",
      secretAccessKey: "sEcReT/key+example",
      sessionToken: "IQoJb3JpZ2luX2VjEXAMPLE/token+with=chars",
    },
    now: new Date("2026-12-07T12:00:00Z"),
    expires: 60,
    query: { "response-content-disposition": 'attachment; filename="onboard-archive.json"' },
  }));
  assert.equal(url.searchParams.get("X-Amz-Security-Token"), "IQoJb3JpZ2luX2VjEXAMPLE/token+with=chars");
  assert.equal(
    url.searchParams.get("X-Amz-Signature"),
    "4dae89170e114e1599291a66f8fcbbb0374463888685c069d298f5d4a3b55315",
  );
});
