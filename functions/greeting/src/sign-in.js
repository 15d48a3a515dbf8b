// The page as the person's own small app. The hosted UI's authorization
// code flow with PKCE, in the browser: no secret, and the code is useless
// without the verifier this tab keeps. Tokens live in this script's memory
// only; a reload signs the person in again with a round trip through the
// hosted UI, which returns at once while its own session lasts.
"use strict";
(async () => {
  const settings = document.getElementById("onboard").dataset;
  const $ = (id) => document.getElementById(id);
  const show = (id, text) => { $(id).textContent = text; };
  const base64url = (bytes) => btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const random = (n) => base64url(crypto.getRandomValues(new Uint8Array(n)));
  const hosted = (path) => new URL(path, settings.authUrl);
  const api = (path) => new URL(path, settings.redirectUri);
  const params = new URLSearchParams(location.search);
  // Only that the person is signed in, and the newest version of them this
  // tab has seen (so a reload never shows an older name): never a token.
  const SIGNED_IN = "onboard.signedIn";
  const SEEN = "onboard.seenVersion";

  // An authorization request: remember a verifier and a state, go there.
  const authorize = async (path) => {
    const verifier = random(32);
    const state = random(16);
    sessionStorage.setItem("onboard.pkce", JSON.stringify({ verifier, state }));
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    const to = hosted(path);
    to.search = new URLSearchParams({
      client_id: settings.clientId,
      response_type: "code",
      scope: "openid email profile",
      redirect_uri: settings.redirectUri,
      state,
      code_challenge: base64url(new Uint8Array(digest)),
      code_challenge_method: "S256",
    });
    location.assign(to);
  };

  for (const action of ["signup", "login"]) {
    if (params.has(action)) return authorize("/" + action);
  }

  // The hosted UI sends errors back as ?error=…&error_description=….
  if (params.has("error")) {
    sessionStorage.removeItem(SIGNED_IN);
    sessionStorage.removeItem(SEEN);
    history.replaceState(null, "", settings.redirectUri);
    show("error", "The sign-in did not finish: " +
      (params.get("error_description") || params.get("error")));
    return;
  }

  const code = params.get("code");
  if (!code) {
    // A reload of a signed-in page: the hosted UI's session signs them in.
    if (sessionStorage.getItem(SIGNED_IN) === "1") {
      show("status", "Signing you in…");
      return authorize("/oauth2/authorize");
    }
    return;
  }

  // Back from the hosted UI: trade the code for tokens.
  const saved = JSON.parse(sessionStorage.getItem("onboard.pkce") || "null");
  sessionStorage.removeItem("onboard.pkce");
  history.replaceState(null, "", settings.redirectUri);
  let tokens;
  try {
    if (!saved || saved.state !== params.get("state")) {
      throw new Error("this sign-in was not started on this page; start again");
    }
    show("status", "Signing you in…");
    const traded = await fetch(hosted("/oauth2/token"), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: settings.clientId,
        code,
        redirect_uri: settings.redirectUri,
        code_verifier: saved.verifier,
      }),
    });
    if (!traded.ok) throw new Error("the hosted UI refused the code (" + traded.status + ")");
    tokens = await traded.json();
  } catch (err) {
    sessionStorage.removeItem(SIGNED_IN);
    sessionStorage.removeItem(SEEN);
    show("status", "");
    show("error", "Could not sign you in: " + err.message);
    return;
  }
  sessionStorage.setItem(SIGNED_IN, "1");

  const call = async (method, path, body) => {
    const response = await fetch(api(path), {
      method,
      headers: {
        Authorization: tokens.id_token,
        Accept: "application/json",
        ...(body ? { "Content-Type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    let answer = {};
    try { answer = await response.json(); } catch { /* no body */ }
    return { ok: response.ok, status: response.status, answer };
  };

  // The greeting, never older than a version this tab has seen.
  const greet = async () => {
    const seen = sessionStorage.getItem(SEEN);
    const hello = await call("GET", seen ? "hello?version=" + encodeURIComponent(seen) : "hello");
    if (!hello.ok) throw new Error("the greeting answered " + hello.status);
    show("greeting", hello.answer.message);
    return hello.answer;
  };

  const signOut = async () => {
    sessionStorage.removeItem(SIGNED_IN);
    sessionStorage.removeItem(SEEN);
    // The refresh token revoked, then the hosted UI's own session ended.
    try {
      await fetch(hosted("/oauth2/revoke"), {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: tokens.refresh_token || "", client_id: settings.clientId }),
      });
    } catch { /* the hosted UI's logout still ends its session */ }
    const to = hosted("/logout");
    to.search = new URLSearchParams({ client_id: settings.clientId, logout_uri: settings.redirectUri });
    location.assign(to);
  };

  try {
    await greet();
  } catch (err) {
    show("status", "");
    show("error", "Could not greet you: " + err.message);
    return;
  }
  show("status", "You are signed in.");
  $("actions").hidden = true;
  $("app").hidden = false;

  $("rename").addEventListener("submit", async (event) => {
    event.preventDefault();
    show("rename-error", "");
    const renamed = await call("PATCH", "me", { name: $("new-name").value });
    if (!renamed.ok) {
      const errors = Array.isArray(renamed.answer.errors) ? ": " + renamed.answer.errors.join("; ") : "";
      show("rename-error", (renamed.answer.message || "The name was not changed") + errors);
      return;
    }
    $("new-name").value = "";
    sessionStorage.setItem(SEEN, String(renamed.answer.version));
    await greet();
    show("status", renamed.answer.changed ? "Your name is changed." : "That is your name already.");
  });

  $("download").addEventListener("click", async () => {
    const data = await call("GET", "me/data");
    if (!data.ok) {
      show("error", "Your data could not be read: " + (data.answer.message || data.status));
      return;
    }
    const file = new Blob([JSON.stringify(data.answer, null, 2)], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(file);
    link.download = "onboard-my-data.json";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  });

  // The archive object straight from S3 with the person's own credentials:
  // the identity pool's enhanced flow (GetId, GetCredentialsForIdentity),
  // then a presigned GET the browser follows as a download.
  if (settings.identityPoolId) {
    $("download-own").hidden = false;
    $("download-own").addEventListener("click", async () => {
      show("error", "");
      try {
        const payload = tokens.id_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
        const claims = JSON.parse(atob(payload));
        const logins = { [claims.iss.replace(/^https:\/\//, "")]: tokens.id_token };
        const identity = async (target, body) => {
          const answer = await fetch(settings.identityUrl, {
            method: "POST",
            headers: {
              "Content-Type": "application/x-amz-json-1.1",
              "X-Amz-Target": "AWSCognitoIdentityService." + target,
            },
            body: JSON.stringify(body),
          });
          if (!answer.ok) throw new Error("the identity pool answered " + answer.status);
          return answer.json();
        };
        const { IdentityId } = await identity("GetId", { IdentityPoolId: settings.identityPoolId, Logins: logins });
        const { Credentials } = await identity("GetCredentialsForIdentity", { IdentityId, Logins: logins });
        location.assign(await presignedGet({
          url: `${settings.archiveUrl}/users/${encodeURIComponent(claims.sub)}.json`,
          region: settings.region,
          credentials: {
            accessKeyId: Credentials.AccessKeyId,
            secretAccessKey: Credentials.SecretKey,
            sessionToken: Credentials.SessionToken,
          },
          query: { "response-content-disposition": 'attachment; filename="onboard-archive.json"' },
        }));
      } catch (err) {
        show("error", "Your archived data could not be fetched: " + err.message);
      }
    });
  }

  $("sign-out").addEventListener("click", signOut);
  $("delete").addEventListener("click", () => { $("confirm-delete").hidden = false; });
  $("delete-cancelled").addEventListener("click", () => { $("confirm-delete").hidden = true; });
  $("delete-confirmed").addEventListener("click", async () => {
    const erased = await call("DELETE", "me");
    if (!erased.ok) {
      show("error", "Your account was not deleted: " + (erased.answer.message || erased.status));
      return;
    }
    await signOut();
  });
})();
