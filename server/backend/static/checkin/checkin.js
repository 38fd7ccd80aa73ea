// The phone check-in page: scan the meeting code for a ticket, say who you are once,
// take a selfie with the front camera, turn the head as the server asks while a short
// burst is taken, and show the answer. Without a live camera (plain http: browsers give
// pages a camera only over https or on localhost) the phone's camera app records a short
// selfie video of the same head turn instead, or takes a photo when no turn is asked.
// No third-party code; everything is same-origin under the page's CSP.
"use strict";

const WHO_KEY = "sonta.checkin.who";
const DEVICE_KEY = "sonta.checkin.device";
const SELFIE_MAX_SIDE = 640;   // enough for the face-service's size gate, ~40-70 KB
const TURN_MAX_SIDE = 400;     // burst frames only need the face, ~10 KB each
const TURN_OUT_FRAMES = 3;     // per move: frames while the head moves the asked way
const TURN_BACK_FRAMES = 3;    // then while it comes back (2 when two moves are asked)
const TURN_INTERVAL_MS = 300;
const MOVE_WORDS = {left: "turn your head slowly to your LEFT",
  right: "turn your head slowly to your RIGHT", up: "tilt your head slowly UP"};
const VIDEO_MAX_BYTES = 16 * 1024 * 1024;  // the server's limit for a clip

const $ = (id) => document.getElementById(id);
const state = {ticket: null, meeting: null, moves: [], stream: null, photos: null,
  waiting: false};

function show(step) {
  for (const section of document.querySelectorAll(".step")) {
    section.hidden = section.id !== "step-" + step;
  }
}

function say(element, text, busy = false) {
  element.textContent = text;
  element.classList.toggle("busy", busy);
}

function answer(kind, title, text, retry = false) {
  stopCamera();
  const box = $("answer");
  box.className = "answer " + kind;
  say($("answer-title"), title);
  $("answer-text").textContent = text;
  $("retry").hidden = !retry;
  show("answer");
  box.focus();
  performance.mark("answer");
}

class Offline extends Error {}

async function post(path, body) {
  let response;
  try {
    response = await fetch(path, {method: "POST", body,
      headers: typeof body === "string" ? {"Content-Type": "application/json"} : {}});
  } catch (error) {
    throw new Offline(String(error));
  }
  let data = {};
  try { data = await response.json(); } catch (error) { data = {}; }
  return {status: response.status, ok: response.ok, data};
}

function detail(data, fallback) {
  if (typeof data.detail === "string") return data.detail;
  if (data.detail && typeof data.detail.message === "string") return data.detail.message;
  if (typeof data.message === "string") return data.message;
  return fallback;
}

function offline() {
  answer("warn", "You are offline",
    "Your photo is kept: it is sent by itself when your phone is back online, " +
    "or tap Try again.", true);
  state.waiting = true;
}

// Back online: send the kept photo once, without waiting for a tap.
window.addEventListener("online", () => {
  if (state.waiting && state.photos) { send(); }
});

// A random id kept on this phone, so the server can tell this phone's own failed tries
// from someone else's attempts as you.
function device() {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

// --- the meeting code ------------------------------------------------------------

async function scan() {
  const token = new URLSearchParams(location.search).get("token") || "";
  if (!token) {
    answer("bad", "Scan the meeting's code", "Open this page by scanning the code on screen.");
    return;
  }
  let reply;
  try {
    reply = await post("/api/qr/scan", JSON.stringify({token}));
  } catch (error) {
    if (error instanceof Offline) { answer("warn", "You are offline",
      "Connect to the internet, then scan the code on screen again."); return; }
    throw error;
  }
  if (!reply.ok) {
    const expired = reply.status === 401;
    answer("bad", expired ? "This code has expired" : "This code cannot be used",
      detail(reply.data, "Scan the code on screen again."));
    return;
  }
  history.replaceState(null, "", location.pathname);  // a reload must not reuse the code
  state.ticket = reply.data.ticket;
  state.meeting = reply.data;
  state.moves = reply.data.moves || (reply.data.challenge ? [reply.data.challenge] : []);
  $("title").textContent = reply.data.title;
  $("when").textContent = describeTime(reply.data);
  if (reply.data.latitude !== null && reply.data.latitude !== undefined) {
    const where = $("where");
    where.textContent = "This meeting checks that you are at " +
      (reply.data.location_name || "its venue") + ". Your phone will ask to share your " +
      "location; it is used only for this check-in.";
    where.hidden = false;
  }
  localStorage.getItem(WHO_KEY) ? startCamera() : askWho();
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString(undefined, {hour: "2-digit", minute: "2-digit"});
}

function describeTime(meeting) {
  const start = new Date(meeting.starts_at);
  const options = {weekday: "short", hour: "2-digit", minute: "2-digit"};
  let text = start.toLocaleString(undefined, options);
  if (meeting.late_after) {
    text += " · late after " + clock(meeting.late_after);
  }
  return text;
}

// --- who is checking in ----------------------------------------------------------

function askWho() {
  stopCamera();
  $("who").value = localStorage.getItem(WHO_KEY) || "";
  show("who");
  $("who").focus();
}

$("who-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const who = $("who").value.trim();
  if (!who) { $("who").focus(); return; }
  localStorage.setItem(WHO_KEY, who);
  startCamera();
});
$("change-who").addEventListener("click", askWho);
$("change-who-video").addEventListener("click", askWho);

// --- camera and capture ----------------------------------------------------------

async function startCamera() {
  $("who-shown").textContent = localStorage.getItem(WHO_KEY);
  show("camera");
  say($("guide"), "Put your face in the oval, then tap the button.");
  $("capture").disabled = true;
  if (!window.isSecureContext || !navigator.mediaDevices) { noLiveCamera(); return; }
  try {
    state.stream = await navigator.mediaDevices.getUserMedia(
      {video: {facingMode: "user", width: {ideal: 1280}, height: {ideal: 960}}, audio: false});
  } catch (error) {
    noLiveCamera();
    return;
  }
  $("video").srcObject = state.stream;
  await $("video").play().catch(() => {});
  $("capture").disabled = false;
  $("capture").focus();
}

// The phone's own camera app: a short video when a head turn is asked, else a photo.
function noLiveCamera() {
  if (!state.moves.length) { show("file"); return; }
  $("who-video").textContent = localStorage.getItem(WHO_KEY);
  $("video-moves").textContent = state.moves.map((m) => MOVE_WORDS[m]).join(", back, then ");
  show("video");
}

function stopCamera() {
  if (state.stream) { for (const track of state.stream.getTracks()) track.stop(); }
  state.stream = null;
}

function toJpeg(source, width, height, maxSide, quality) {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
  return new Promise((done) => canvas.toBlob(done, "image/jpeg", quality));
}

function grab(maxSide, quality) {
  const video = $("video");
  return toJpeg(video, video.videoWidth, video.videoHeight, maxSide, quality);
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

$("capture").addEventListener("click", async () => {
  performance.clearMarks();
  performance.mark("capture");
  $("capture").disabled = true;
  const start = performance.now();
  const selfie = await grab(SELFIE_MAX_SIDE, 0.82);
  const turn = [];
  const times = [0];
  const back = state.moves.length > 1 ? TURN_BACK_FRAMES - 1 : TURN_BACK_FRAMES;
  for (const [n, move] of state.moves.entries()) {
    const then = n + 1 < state.moves.length ? ", and back" : ", and back to the camera";
    say($("guide"), "Now " + MOVE_WORDS[move] + "…");
    for (let i = 0; i < TURN_OUT_FRAMES + back; i += 1) {
      if (i === TURN_OUT_FRAMES) say($("guide"), "…" + then);
      await sleep(TURN_INTERVAL_MS);
      times.push(Math.round(performance.now() - start));
      turn.push(await grab(TURN_MAX_SIDE, 0.75));
    }
  }
  state.photos = {selfie, turn, times};
  await send();
});

$("file").addEventListener("change", async () => {
  const file = $("file").files[0];
  if (!file) return;
  performance.clearMarks();
  performance.mark("capture");
  const bitmap = await createImageBitmap(file, {imageOrientation: "from-image"});
  state.photos = {selfie: await toJpeg(bitmap, bitmap.width, bitmap.height,
    SELFIE_MAX_SIDE, 0.82), turn: []};
  await send();
});

$("clip").addEventListener("change", async () => {
  const file = $("clip").files[0];
  if (!file) return;
  $("clip").value = "";
  performance.clearMarks();
  performance.mark("capture");
  if (file.size > VIDEO_MAX_BYTES) {
    answer("warn", "The video is too long",
      "Record about 3 seconds (at 1080p or lower), then send it again.", true);
    return;
  }
  state.photos = {video: file};
  await send();
});

function position() {
  if (!state.meeting || state.meeting.latitude === null || !navigator.geolocation) {
    return Promise.resolve(null);
  }
  return new Promise((done) => {
    navigator.geolocation.getCurrentPosition((p) => done(p.coords), () => done(null),
      {timeout: 8000, maximumAge: 60000, enableHighAccuracy: true});
  });
}

// --- sending and the answer ------------------------------------------------------

async function send() {
  state.waiting = false;
  show("answer");
  $("answer").className = "answer";
  say($("answer-title"), "Checking…", true);
  $("answer-text").textContent = "";
  $("retry").hidden = true;
  const form = new FormData();
  form.append("ticket", state.ticket);
  form.append("device", device());
  const who = localStorage.getItem(WHO_KEY);
  if (who.includes("@")) { form.append("email", who); } else { form.append("member_code", who); }
  if (state.photos.video) {
    form.append("video", state.photos.video, state.photos.video.name || "selfie-video");
  } else {
    form.append("selfie", state.photos.selfie, "selfie.jpg");
    state.photos.turn.forEach((frame, i) => form.append("turn", frame, "turn" + i + ".jpg"));
    if (state.photos.turn.length) form.append("turn_ms", state.photos.times.join(","));
  }
  const coords = await position();
  if (coords) {
    form.append("latitude", coords.latitude);
    form.append("longitude", coords.longitude);
    form.append("accuracy_m", coords.accuracy);
  }
  let reply;
  try {
    reply = await post("/api/checkin/phone", form);
  } catch (error) {
    if (error instanceof Offline) { offline(); return; }
    throw error;
  }
  showReply(reply);
}

function showReply(reply) {
  const data = reply.data;
  let text = detail(data, "Please see an admin.");
  if (reply.ok && data.checked_in_at) {
    text += " Recorded at " + clock(data.checked_in_at) + ".";
  }
  if (reply.ok && data.result === "recorded") {
    if (data.status === "pending_review") {
      answer("warn", "Thank you — waiting for an admin", text);
    } else {
      answer("ok", data.late ? "Checked in — late" : "You are checked in", text);
    }
  } else if (reply.ok && data.result === "already_checked_in") {
    answer("ok", "Already checked in", text);
  } else if (reply.ok) {
    const left = data.tries_left;
    if (left === 0) { answer("bad", "Please see an admin", text); return; }
    const tries = left === 1 ? "1 try left" : left + " tries left";
    answer("warn", "Try again", text + (left ? " (" + tries + ")" : ""), true);
  } else if (reply.status === 429) {
    answer("bad", "Please see an admin", text);
  } else if (reply.status === 422 || reply.status === 400) {
    answer("warn", "Try again", text, true);
  } else if (reply.status === 409 || reply.status === 401) {
    answer("bad", "Scan the code again", text);
  } else if (reply.status === 404) {
    answer("bad", "Not for this meeting", text);
  } else {
    answer("bad", "Temporarily unavailable",
      "Check-in is not working right now. Please try again shortly or see an admin.", true);
  }
}

$("retry").addEventListener("click", () => {
  if (state.photos && $("answer-title").textContent === "You are offline") {
    send();
  } else {
    startCamera();
  }
});

scan();
