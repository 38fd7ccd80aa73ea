"""The phone check-in page (`GET /checkin?token=...`) that a scanned meeting QR opens.

One static page: its script reads the token from the address itself (nothing from the
request is written into the HTML), trades it for a ticket at `/api/qr/scan`, then posts
the ticket, the person's email or member code, a selfie from the front camera (scaled down
in the browser to fit the upload limit) and, if the phone
allows, its position to `/api/checkin/phone`, and shows the answer.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["phone check-in"])

# Scripts and styles are inline and fixed; nothing else may load or be framed.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' blob:; form-action 'none'; frame-ancestors 'none'"
)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Check in</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;margin:.5rem 0;font-size:1.1rem}
button{padding:.8rem}#message{font-size:1.2rem;margin-top:1rem}
</style></head><body>
<h1 id="title">Check in</h1>
<form id="checkin">
<label for="email">Your email, or the member code on your badge</label>
<input id="email" name="email" type="text" required autocomplete="email">
<label for="selfie">A photo of your face</label>
<input id="selfie" name="selfie" type="file" accept="image/*" capture="user" required>
<button type="submit">Check in</button>
</form>
<p id="message" role="status"></p>
<script>
"use strict";
const say = (text) => { document.getElementById("message").textContent = text; };
const token = new URLSearchParams(location.search).get("token") || "";
let ticket = null;
async function scan() {
  const r = await fetch("/api/qr/scan", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({token})});
  const body = await r.json();
  if (!r.ok) {
    say(typeof body.detail === "string" ? body.detail : "Scan the code again.");
    return;
  }
  ticket = body.ticket;
  document.getElementById("title").textContent = "Check in: " + body.title;
}
// Phone cameras take photos of several MiB; the server takes 2 MiB at most.
async function shrink(file) {
  const bitmap = await createImageBitmap(file, {imageOrientation: "from-image"});
  const scale = Math.min(1, 1280 / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.85));
}
function position() {
  return new Promise((done) => {
    if (!navigator.geolocation) { done(null); return; }
    navigator.geolocation.getCurrentPosition((p) => done(p.coords), () => done(null),
      {timeout: 5000, maximumAge: 60000});
  });
}
document.getElementById("checkin").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!ticket) { say("Scan the meeting's code again."); return; }
  say("Checking...");
  const form = new FormData();
  form.append("ticket", ticket);
  const who = document.getElementById("email").value.trim();
  if (who.includes("@")) { form.append("email", who); } else { form.append("member_code", who); }
  form.append("selfie", await shrink(document.getElementById("selfie").files[0]), "selfie.jpg");
  const coords = await position();
  if (coords) {
    form.append("latitude", coords.latitude);
    form.append("longitude", coords.longitude);
    form.append("accuracy_m", coords.accuracy);
  }
  const r = await fetch("/api/checkin/phone", {method: "POST", body: form});
  const body = await r.json();
  if (r.ok) { say(body.message); return; }
  say(typeof body.detail === "string" ? body.detail : (body.detail.message || "Try again."));
});
scan();
</script></body></html>
"""


@router.get("/checkin", response_class=HTMLResponse, include_in_schema=False)
async def checkin_page() -> HTMLResponse:
    """The page a meeting's QR code opens on a phone."""
    return HTMLResponse(
        PAGE,
        headers={
            "Content-Security-Policy": CSP,
            "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
        },
    )
