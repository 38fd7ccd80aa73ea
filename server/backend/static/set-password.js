"use strict";
// The one-time code arrives in the link's query; nothing from the request is in the HTML.
const say = (text) => { document.getElementById("message").textContent = text; };
const detail = (body) => typeof body.detail === "string" ? body.detail : "Please try again.";
document.getElementById("token").value = new URLSearchParams(location.search).get("token") || "";
history.replaceState(null, "", location.pathname);  // keep the code out of history
document.getElementById("set-password").addEventListener("submit", async (event) => {
  event.preventDefault();
  const password = document.getElementById("password").value;
  if (password !== document.getElementById("repeat").value) {
    say("The two passwords differ; type them again.");
    return;
  }
  const token = document.getElementById("token").value.trim();
  const r = await fetch("/api/auth/password/set", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({token, password})});
  if (r.ok) {
    document.getElementById("set-password").classList.add("hidden");
    say("Your password is set. Sign in with your email and this password in the Sonta " +
        "Attendance app on your computer (sonta admin-app), or on this server's presenter " +
        "screen at " + location.origin + "/present.");
    return;
  }
  say(detail(await r.json()));
});
