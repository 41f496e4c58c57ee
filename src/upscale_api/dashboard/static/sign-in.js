// Sign-in: get a Firebase ID token in the browser, then send it once to POST /dashboard/sign-in,
// which answers with a session cookie (HttpOnly: no script reads it). The token is not kept.
(function () {
  "use strict";
  var form = document.getElementById("sign-in");
  if (!form) return;
  var tokenField = document.getElementById("id-token");

  function b64url(text) {
    return btoa(unescape(encodeURIComponent(text))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // Development and tests (Firebase Auth emulator mode): an unsigned token for the uid typed in, as
  // `upscale token UID` prints. The server accepts it only in emulator mode, never in production.
  function emulatorToken(uid, project) {
    var now = Math.floor(Date.now() / 1000);
    var header = { alg: "none", typ: "JWT" };
    var payload = {
      iss: "https://securetoken.google.com/" + project, aud: project, sub: uid, user_id: uid,
      iat: now, auth_time: now, exp: now + 3600, firebase: { sign_in_provider: "password", identities: {} }
    };
    return b64url(JSON.stringify(header)) + "." + b64url(JSON.stringify(payload)) + ".";
  }

  function send(token) {
    tokenField.value = token;
    HTMLFormElement.prototype.submit.call(form);
  }

  if (form.dataset.emulated === "yes") {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(emulatorToken(document.getElementById("dev-uid").value.trim(), form.dataset.project));
    });
    return;
  }

  // Production: the Firebase JS SDK (compat build), served by the app under /dashboard/static/firebase/.
  function auth() {
    if (!window.firebase) throw new Error("the Firebase SDK is not installed on this server");
    if (!window.firebase.apps.length) {
      window.firebase.initializeApp({
        apiKey: form.dataset.apiKey, authDomain: form.dataset.authDomain, projectId: form.dataset.project
      });
    }
    return window.firebase.auth();
  }

  function fail(error) {
    var shown = document.getElementById("sign-in-problem") || document.createElement("p");
    shown.id = "sign-in-problem";
    shown.className = "error";
    shown.setAttribute("role", "alert");
    shown.textContent = error.message || String(error);
    form.prepend(shown);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    auth().signInWithEmailAndPassword(document.getElementById("email").value, document.getElementById("password").value)
      .then(function (credential) { return credential.user.getIdToken(); }).then(send).catch(fail);
  });
  var google = document.getElementById("google");
  if (google) {
    google.addEventListener("click", function () {
      try {
        auth().signInWithPopup(new window.firebase.auth.GoogleAuthProvider())
          .then(function (credential) { return credential.user.getIdToken(); }).then(send).catch(fail);
      } catch (error) { fail(error); }
    });
  }
})();
