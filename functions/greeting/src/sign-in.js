// The hosted UI's authorization code flow with PKCE, in the browser: no
// secret, and the code is useless without the verifier this tab keeps.
"use strict";
(async () => {
  const settings = document.getElementById("onboard").dataset;
  const show = (id, text) => { document.getElementById(id).textContent = text; };
  const base64url = (bytes) => btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const random = (n) => base64url(crypto.getRandomValues(new Uint8Array(n)));
  const hosted = (path) => new URL(path, settings.authUrl);
  const params = new URLSearchParams(location.search);

  // Sign up or sign in: remember a verifier and a state, go to the hosted UI.
  for (const action of ["signup", "login"]) {
    if (!params.has(action)) continue;
    const verifier = random(32);
    const state = random(16);
    sessionStorage.setItem("onboard.pkce", JSON.stringify({ verifier, state }));
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    const to = hosted("/" + action);
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
    return;
  }

  // Back from the hosted UI: trade the code for tokens, then ask /hello.
  const code = params.get("code");
  if (!code) return;
  const saved = JSON.parse(sessionStorage.getItem("onboard.pkce") || "null");
  sessionStorage.removeItem("onboard.pkce");
  history.replaceState(null, "", settings.redirectUri);
  try {
    if (!saved || saved.state !== params.get("state")) {
      throw new Error("this sign-in was not started on this page; start again");
    }
    show("status", "Signing you in…");
    const tokens = await fetch(hosted("/oauth2/token"), {
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
    if (!tokens.ok) throw new Error("the hosted UI refused the code (" + tokens.status + ")");
    const { id_token: idToken } = await tokens.json();
    const hello = await fetch(new URL("hello", settings.redirectUri), {
      headers: { Authorization: idToken, Accept: "application/json" },
    });
    if (!hello.ok) throw new Error("the greeting answered " + hello.status);
    const { message } = await hello.json();
    show("greeting", message);
    show("status", "You are signed up and signed in.");
    document.getElementById("actions").hidden = true;
  } catch (err) {
    show("status", "");
    show("error", "Could not sign you in: " + err.message);
  }
})();
