// Passkeys on the Portcullis pages: the two WebAuthn ceremonies the browser must run itself.
// Registration (the account page's "Add a passkey") and sign-in (the sign-in page's "Sign in
// with a passkey"). Each is two requests to the server, bound to the page's CSRF token: start
// (the server keeps the ceremony and answers its options) and finish (the authenticator's
// answer). Everything else on the pages works without JavaScript.
"use strict";

(function () {
  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let raw = "";
    for (let i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBytes(c.id) });
    });
  }

  async function post(url, fields) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams(fields),
    });
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      body = null;
    }
    if (!res.ok) {
      const error = (body && body.error) || {};
      if (error.location) {
        window.location.assign(error.location);
      }
      if (res.status === 403 && !error.message) {
        throw new Error("This page has expired. Reload it and try again.");
      }
      throw new Error(error.message || "Something went wrong. Try again.");
    }
    return body;
  }

  function show(box, message) {
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
  }

  function failed(box, e) {
    // The person closed the browser's dialog, or the authenticator refused: no server error.
    if (e && (e.name === "NotAllowedError" || e.name === "AbortError")) {
      show(box, "No passkey was used.");
    } else if (e && e.name === "InvalidStateError") {
      show(box, "This authenticator holds a passkey for your account already.");
    } else {
      show(box, (e && e.message) || "Something went wrong. Try again.");
    }
  }

  async function register(button) {
    const box = document.getElementById("passkey-error");
    const csrf = button.dataset.csrf;
    const nameInput = document.getElementById("passkey-name");
    button.disabled = true;
    try {
      const started = await post("/account/passkeys/register/start", { csrf_token: csrf });
      const o = started.options.publicKey;
      o.challenge = toBytes(o.challenge);
      o.user.id = toBytes(o.user.id);
      o.excludeCredentials = withIds(o.excludeCredentials);
      const cred = await navigator.credentials.create({ publicKey: o });
      const credential = {
        id: cred.id,
        rawId: toB64url(cred.rawId),
        type: cred.type,
        response: {
          attestationObject: toB64url(cred.response.attestationObject),
          clientDataJSON: toB64url(cred.response.clientDataJSON),
          transports: cred.response.getTransports ? cred.response.getTransports() : undefined,
        },
        extensions: cred.getClientExtensionResults(),
      };
      await post("/account/passkeys/register/finish", {
        csrf_token: csrf,
        ceremony: started.ceremony,
        credential: JSON.stringify(credential),
        name: nameInput ? nameInput.value : "",
      });
      window.location.assign("/account?notice=passkey_added");
    } catch (e) {
      failed(box, e);
      button.disabled = false;
    }
  }

  async function signIn(button) {
    const box = document.getElementById("passkey-error");
    const csrf = button.dataset.csrf;
    button.disabled = true;
    try {
      // The second step of a sign-in (/login/mfa) names its own endpoints.
      const start = button.dataset.start || "/login/passkey/start";
      const finish = button.dataset.finish || "/login/passkey/finish";
      const started = await post(start, { csrf_token: csrf });
      const o = started.options.publicKey;
      o.challenge = toBytes(o.challenge);
      o.allowCredentials = withIds(o.allowCredentials);
      const cred = await navigator.credentials.get({ publicKey: o });
      const r = cred.response;
      const credential = {
        id: cred.id,
        rawId: toB64url(cred.rawId),
        type: cred.type,
        response: {
          authenticatorData: toB64url(r.authenticatorData),
          clientDataJSON: toB64url(r.clientDataJSON),
          signature: toB64url(r.signature),
          userHandle: r.userHandle ? toB64url(r.userHandle) : null,
        },
        extensions: cred.getClientExtensionResults(),
      };
      const done = await post(finish, {
        csrf_token: csrf,
        ceremony: started.ceremony,
        credential: JSON.stringify(credential),
        return_to: button.dataset.returnTo || "/account",
        add: button.dataset.add || "",
      });
      window.location.assign(done.location);
    } catch (e) {
      failed(box, e);
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const supported = !!(window.PublicKeyCredential && navigator.credentials);
    const add = document.getElementById("passkey-add");
    const signin =
      document.getElementById("passkey-sign-in") ||
      document.getElementById("passkey-second-factor");
    for (const button of [add, signin]) {
      if (!button) continue;
      if (!supported) {
        show(document.getElementById("passkey-error"), "This browser does not support passkeys.");
        continue;
      }
      button.hidden = false;
      button.addEventListener("click", function (event) {
        event.preventDefault();
        if (button === add) register(button);
        else signIn(button);
      });
    }
  });
})();
