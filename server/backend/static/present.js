"use strict";
// The presenter screen: big QR code, meeting title, count present; it fetches the view
// again after refresh_after_seconds, always before the code on screen expires.
// Access: a display key in the fragment (#key=..., never sent to a server) or an admin
// sign-in kept for this tab only.
const $ = (id) => document.getElementById(id);
const show = (id, on) => $(id).classList.toggle("hidden", !on);
const params = new URLSearchParams(location.search);
const displayKey = new URLSearchParams(location.hash.slice(1)).get("key");
let meetingId = params.get("meeting");
let qrUrl = null;

function authHeaders() {
  if (displayKey) { return {"X-Display-Key": displayKey}; }
  const token = sessionStorage.getItem("sonta.access_token");
  return token ? {"Authorization": "Bearer " + token} : {};
}

function render(view) {
  show("screen", true);
  $("title").textContent = view.title;
  $("place").textContent = view.location_name;
  $("count").textContent = view.present + " present" +
    (view.expected ? " of " + view.expected + " expected" : "");
  $("message").textContent = view.message;
  if (view.qr) {
    const blob = new Blob([view.qr.svg], {type: "image/svg+xml"});
    if (qrUrl) { URL.revokeObjectURL(qrUrl); }
    qrUrl = URL.createObjectURL(blob);
    $("qr").src = qrUrl;
  }
  show("qr", Boolean(view.qr));
}

async function refresh() {
  let wait = 10;
  try {
    const r = await fetch("/api/present/" + encodeURIComponent(meetingId), {headers: authHeaders()});
    const body = await r.json();
    if (r.status === 401 && !displayKey) { sessionStorage.removeItem("sonta.access_token"); signIn(); return; }
    if (!r.ok) {
      show("screen", true);
      show("qr", false);
      $("message").textContent = typeof body.detail === "string" ? body.detail : "Cannot show this meeting.";
    } else {
      render(body);
      wait = body.refresh_after_seconds;
    }
  } catch (error) {
    $("message").textContent = "The server cannot be reached; trying again.";
  }
  setTimeout(refresh, Math.max(1, wait) * 1000);
}

function signIn() {
  show("screen", false);
  show("sign-in", true);
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const r = await fetch("/api/auth/login", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({email: $("email").value, password: $("password").value})});
  const body = await r.json();
  if (!r.ok) { $("sign-in-message").textContent = typeof body.detail === "string" ? body.detail : "Try again."; return; }
  sessionStorage.setItem("sonta.access_token", body.access_token);
  show("sign-in", false);
  start();
});

async function choose() {
  const r = await fetch("/api/meetings?status=active", {headers: authHeaders()});
  if (r.status === 401) { signIn(); return; }
  const body = await r.json();
  const select = $("meeting");
  select.replaceChildren(...body.data.map((m) => new Option(m.title, m.id)));
  show("choose", true);
}

$("choose").addEventListener("submit", (event) => {
  event.preventDefault();
  meetingId = $("meeting").value;
  history.replaceState(null, "", "?meeting=" + encodeURIComponent(meetingId));
  show("choose", false);
  refresh();
});

function start() {
  if (!displayKey && !sessionStorage.getItem("sonta.access_token")) { signIn(); return; }
  if (!meetingId) { choose(); return; }
  refresh();
}
start();
