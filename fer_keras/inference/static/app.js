// The page of python -m fer_keras.serve: a photo or webcam frames → POST /api/v1/emotions → boxes and bars.
"use strict";

const $ = (id) => document.getElementById(id);
const WEBCAM_INTERVAL_MS = 300; // about three frames a second, never two requests at once
let webcam = null;

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function pct(p) { return (100 * p).toFixed(1) + " %"; }

function topEmotion(emotions) {
  return Object.entries(emotions).reduce((a, b) => (b[1] > a[1] ? b : a));
}

function show(result, width, height) {
  const boxes = $("boxes"), list = $("faces");
  boxes.replaceChildren();
  list.replaceChildren();
  result.faces.forEach((face, i) => {
    const [x, y, w, h] = face.box;
    const [emotion, p] = topEmotion(face.emotions);
    const box = document.createElement("div");
    box.className = "box";
    Object.assign(box.style, { left: (100 * x / width) + "%", top: (100 * y / height) + "%",
      width: (100 * w / width) + "%", height: (100 * h / height) + "%" });
    const label = document.createElement("span");
    label.textContent = `${i + 1}: ${emotion} ${pct(p)}`;
    box.append(label);
    boxes.append(box);

    const card = document.createElement("div");
    card.className = "face";
    const title = document.createElement("h2");
    title.textContent = `Face ${i + 1}: ${emotion}`;
    card.append(title);
    for (const [name, value] of Object.entries(face.emotions)) {
      const row = document.createElement("div");
      row.className = "row" + (name === emotion ? " top" : "");
      const track = document.createElement("div"), bar = document.createElement("div");
      track.className = "track";
      bar.className = "bar";
      bar.style.width = pct(value).replace(" ", "");
      track.append(bar);
      const tag = document.createElement("span"), num = document.createElement("span");
      tag.textContent = name;
      num.className = "value";
      num.textContent = pct(value);
      row.append(tag, track, num);
      card.append(row);
    }
    list.append(card);
  });
}

async function recognize(blob) {
  const form = new FormData();
  form.append("image", blob, "image.jpg");
  const sent = performance.now();
  const response = await fetch("/api/v1/emotions", { method: "POST", body: form });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  body.roundTrip = performance.now() - sent;
  return body;
}

function timing(result) {
  const t = result.timing_ms, n = result.faces.length;
  return `${n} face${n === 1 ? "" : "s"} · server ${t.total} ms (decode ${t.decode}, detect + classify ` +
    `${t.inference}) · round trip ${result.roundTrip.toFixed(0)} ms`;
}

async function onFile() {
  const file = $("file").files[0];
  if (!file) return;
  stopWebcam();
  const photo = $("photo");
  photo.src = URL.createObjectURL(file);
  photo.className = "shown";
  $("boxes").replaceChildren();
  $("faces").replaceChildren();
  setStatus("Looking for faces…");
  try {
    const result = await recognize(file);
    show(result, result.width, result.height);
    setStatus(timing(result));
  } catch (err) {
    setStatus(err.message, true);
  }
}

function stopWebcam() {
  if (!webcam) return;
  webcam.getTracks().forEach((track) => track.stop());
  webcam = null;
  $("video").className = "";
  $("webcam").textContent = "Use the webcam";
}

async function webcamLoop() {
  const video = $("video"), canvas = document.createElement("canvas");
  while (webcam) {
    const started = performance.now();
    if (video.videoWidth) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
      try {
        const result = await recognize(blob);
        if (webcam) { show(result, result.width, result.height); setStatus("webcam: " + timing(result)); }
      } catch (err) {
        setStatus(err.message, true);
      }
    }
    const wait = WEBCAM_INTERVAL_MS - (performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, Math.max(wait, 0)));
  }
}

async function toggleWebcam() {
  if (webcam) { stopWebcam(); return; }
  try {
    webcam = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (err) {
    setStatus(`The webcam could not be opened (${err.name}).`, true);
    return;
  }
  $("photo").className = "";
  const video = $("video");
  video.srcObject = webcam;
  video.className = "shown";
  $("webcam").textContent = "Stop the webcam";
  setStatus("webcam: starting…");
  webcamLoop();
}

async function describeModel() {
  try {
    const model = await (await fetch("/api/v1/model")).json();
    let text = `Model: ${model.name} (${model.labels.length} emotions, ${model.input.join("×")} grey faces, ` +
      `detector ${model.detector}, TTA ${model.tta})`;
    if (model.card) {
      text += ` · FER2013 PrivateTest accuracy ${model.card.private_test_accuracy} %` +
        ` (macro F1 ${model.card.private_test_macro_f1}; ${model.card.private_test_accuracy_tta} % with ` +
        `${model.card.tta} TTA), n = ${model.card.private_test_n}`;
    }
    $("model").textContent = text;
  } catch (err) {
    $("model").textContent = "The model's description could not be loaded.";
  }
}

$("file").addEventListener("change", onFile);
$("webcam").addEventListener("click", toggleWebcam);
describeModel();
