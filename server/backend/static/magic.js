"use strict";
const say = (text) => { document.getElementById("message").textContent = text; };
const detail = (body) => typeof body.detail === "string" ? body.detail : "Please try again.";
async function signIn(token) {
  const r = await fetch("/api/auth/magic-link/verify", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({token})});
  const body = await r.json();
  if (!r.ok) { say(detail(body)); return; }
  // This tab only: the presenter page opened from here uses the same sign-in.
  sessionStorage.setItem("sonta.access_token", body.access_token);
  document.getElementById("magic").classList.add("hidden");
  document.getElementById("next").classList.remove("hidden");
  say("You are signed in.");
}
const given = new URLSearchParams(location.search).get("token") || "";
history.replaceState(null, "", location.pathname);
document.getElementById("token").value = given;
document.getElementById("magic").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn(document.getElementById("token").value.trim());
});
if (given) { signIn(given); }
