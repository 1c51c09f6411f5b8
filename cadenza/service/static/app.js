// The cadenza studio page: forms -> a job on the server -> its progress -> its files.
// Plain ES module, no build step and nothing from the internet. Every text that comes
// from the server is set with textContent, never parsed as HTML.

const FINAL = new Set(["done", "failed", "cancelled"]);
const KEY_STORE = "cadenza.apiKey";

const FILE_LABELS = {
  "music.mid": "MIDI",
  "music.musicxml": "MusicXML",
  "music.wav": "WAV",
  "pianoroll.png": "Piano roll (PNG)",
  "record.json": "Provenance record (signed)",
  "originality.json": "Originality report",
  "cue-sheet.json": "Cue sheet",
  "before.mid": "Your sketch (MIDI)",
  "before.png": "Your sketch (PNG)",
  "analysis.json": "Analysis",
  "verify.json": "Verification",
};

const TASK_HELP = {
  continue: "Adds bars after the last one, in the sketch's style, key, meter, tempo and instruments. Bars: how many (default 8).",
  infill: "Writes some bars anew from the music around them. Bars: which, e.g. 9-12; tracks: names or numbers (default all).",
  harmonize: "Puts a four-part chorale (alto, tenor, bass) or pop chords, piano and bass under your melody.",
  accompany: "Chooses chords for your melody and has them played; the last instrument plays the bass.",
  vary: "Keeps the form and harmony and writes a new surface. Amount: 0 unchanged .. 1 every bar anew; bars: only these, e.g. 1-8.",
  arrange: "Gives every note of yours to a part of an ensemble (top part first), each in its range; composes nothing.",
  analyze: "Key over time, chords, tempo, meter, bars and sections of your music.",
  originality: "How much of your music is found in a model's training set, and the closest training pieces.",
  verify: "Whether a file cadenza made and its provenance record are intact, and who signed them.",
};
const UPLOAD_KINDS = new Set(["analyze", "originality", "verify"]); // at /api/KIND; the others at /api/tasks/KIND

const $ = (id) => document.getElementById(id);

let current = null; // {id, abort: AbortController}
const objectUrls = [];

// ---- talking to the server ----------------------------------------------------------

function apiKey() {
  return ($("api-key").value || "").trim();
}

function authHeaders() {
  const key = apiKey();
  return key ? { "X-API-Key": key } : {};
}

async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") message = body.error;
  } catch {
    // not JSON: keep the status line
  }
  return new Error(message);
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("aborted", "AbortError"));
    });
  });
}

// Server-sent events read through fetch (so that the API key header goes with them);
// any trouble with the stream falls back to polling the job.
async function follow(id, signal) {
  try {
    const response = await fetch(`/api/jobs/${encodeURIComponent(id)}/events`, { headers: authHeaders(), signal });
    const type = response.headers.get("content-type") || "";
    if (response.ok && response.body && type.startsWith("text/event-stream")) {
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = (buffer + value).replace(/\r\n/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block
            .split("\n")
            .filter((line) => line.startsWith("data:"))
            .map((line) => line.slice(5).trimStart())
            .join("\n");
          if (!data) continue;
          const job = JSON.parse(data);
          showJob(job);
          if (FINAL.has(job.status)) return job;
        }
      }
    }
  } catch (error) {
    if (signal.aborted) throw error;
  }
  for (;;) {
    const job = await api(`/api/jobs/${encodeURIComponent(id)}`, { signal });
    showJob(job);
    if (FINAL.has(job.status)) return job;
    await sleep(700, signal);
  }
}

// A job file as a URL the page can use: the server's own URL when no key is needed,
// else a blob fetched with the key (an <img> or <audio> cannot send a header).
async function fileUrl(file, inline) {
  const url = inline ? `${file.url}?inline=1` : file.url;
  if (!apiKey()) return url;
  const response = await fetch(url, { headers: authHeaders() });
  if (!response.ok) throw await errorOf(response);
  const blobUrl = URL.createObjectURL(await response.blob());
  objectUrls.push(blobUrl);
  return blobUrl;
}

// ---- showing state ------------------------------------------------------------------

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function showJob(job) {
  $("job").hidden = false;
  const bar = $("progress");
  const progress = job.progress || {};
  const total = Number(progress.total) || 0;
  const done = Number(progress.done) || 0;
  let text;
  if (job.status === "queued") {
    text = job.position ? `queued: ${job.position} job(s) ahead` : "queued";
    bar.removeAttribute("value");
  } else if (job.status === "running") {
    text = total ? `composing: ${done} of ${total}` : "composing";
    if (total) {
      bar.max = total;
      bar.value = Math.min(done, total);
    } else {
      bar.removeAttribute("value");
    }
  } else {
    text = job.status === "done" ? "done" : job.status;
    bar.max = 1;
    bar.value = job.status === "done" ? 1 : 0;
  }
  $("job-status").textContent = text;
  $("cancel").hidden = FINAL.has(job.status);
}

function busy(on) {
  $("generate").disabled = on;
  $("run-task").disabled = on;
}

function clearOutput() {
  while (objectUrls.length) URL.revokeObjectURL(objectUrls.pop());
  $("output").hidden = true;
  $("empty").hidden = true;
  for (const id of ["pianoroll", "before-roll"]) $(id).removeAttribute("src");
  $("roll-figure").hidden = true;
  $("before-figure").hidden = true;
  const player = $("player");
  player.pause();
  player.removeAttribute("src");
  player.hidden = true;
  for (const id of ["downloads", "provenance", "originality", "summary", "analysis"]) $(id).replaceChildren();
  for (const id of ["provenance-block", "originality-block", "analysis-block"]) $(id).hidden = true;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function bytes(n) {
  if (!Number.isFinite(n)) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function percent(x) {
  return `${Math.round(Number(x) * 100)}%`;
}

function fileLabel(name) {
  if (FILE_LABELS[name]) return FILE_LABELS[name];
  const stem = /^stem-(.+)\.wav$/.exec(name);
  return stem ? `Stem: ${stem[1]} (WAV)` : name;
}

// ---- the result ---------------------------------------------------------------------

async function showResult(job) {
  const files = new Map((job.files || []).map((f) => [f.name, f]));
  $("output").hidden = false;

  const roll = files.get("pianoroll.png");
  if (roll) {
    $("pianoroll").src = await fileUrl(roll, true);
    $("roll-figure").hidden = false;
  }
  const before = files.get("before.png");
  if (before) {
    $("before-roll").src = await fileUrl(before, true);
    $("before-figure").hidden = false;
    $("roll-caption").textContent = "After";
  } else {
    $("roll-caption").textContent = "Piano roll";
  }
  const wav = files.get("music.wav");
  if (wav) {
    const player = $("player");
    player.src = await fileUrl(wav, true);
    player.loop = Boolean(job.summary && job.summary.loop); // a seamless loop plays as one
    player.hidden = false;
  }

  const summary = job.summary || {};
  showDownloads(job);
  showSummary(summary);
  if (job.kind === "analyze") showAnalysis(summary);
  const record = files.has("record.json") ? await api(files.get("record.json").url) : null;
  if (record) showProvenance(record);
  let report = files.has("originality.json") ? await api(files.get("originality.json").url) : null;
  if (!report && record && record.originality) report = record.originality;
  if (report) showOriginality(report);
}

function showDownloads(job) {
  const list = $("downloads");
  const prefix = `cadenza-${String(job.id).slice(0, 8)}`;
  const order = Object.keys(FILE_LABELS);
  const rank = (name) => (order.includes(name) ? order.indexOf(name) : name.startsWith("stem-") ? 2.5 : order.length);
  const files = [...(job.files || [])].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  for (const file of files) {
    const item = element("li");
    const link = element("a", fileLabel(file.name));
    link.href = file.url;
    link.download = `${prefix}-${file.name}`;
    link.dataset.file = file.name;
    link.addEventListener("click", (event) => download(event, file, link.download));
    item.append(link, element("span", ` ${file.name}, ${bytes(file.bytes)}`, "hint"));
    list.append(item);
  }
}

// Without a key the browser follows the link itself; with one, fetch it with the header.
async function download(event, file, name) {
  if (!apiKey()) return;
  event.preventDefault();
  try {
    const url = await fileUrl(file, false);
    const link = element("a");
    link.href = url;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
  } catch (error) {
    showError(error.message);
  }
}

function showSummary(summary) {
  const box = $("summary");
  const parts = [];
  for (const key of ["seconds", "bars", "key", "tempo", "meter", "style", "mood", "notes"]) {
    const value = summary[key];
    if (value !== undefined && value !== null && typeof value !== "object") parts.push(`${key} ${value}`);
  }
  const bars = summary.bars;
  if (bars && typeof bars === "object" && bars.before !== undefined) parts.push(`bars ${bars.before} → ${bars.after}`);
  if (parts.length) box.append(element("p", parts.join(" · ")));
  if (typeof summary.valid === "boolean" && typeof summary.message === "string") {
    box.append(element("p", summary.message, summary.valid ? "verdict ok" : "verdict flagged"));
  }
  if (typeof summary.changed === "string") box.append(element("p", `What changed: ${summary.changed}.`));
  const read = summary.prompt && Array.isArray(summary.prompt.read) ? summary.prompt.read.join("; ") : "";
  if (read) box.append(element("p", `The prompt was read as: ${read}.`));
  for (const warning of summary.warnings || []) {
    if (!read.includes(warning)) box.append(element("p", `Note: ${warning}`, "warning"));
  }
}

function fact(list, term, value) {
  if (value === undefined || value === null || value === "") return;
  list.append(element("dt", term), element("dd", value));
}

function conditionText(conditions) {
  if (!conditions || typeof conditions !== "object") return "";
  const parts = [];
  const cue = conditions.cue;
  if (cue && typeof cue === "object") {
    if (cue.style) parts.push(`style ${cue.style}`);
    if (cue.meter) parts.push(`meter ${cue.meter}`);
    for (const s of cue.sections || []) {
      parts.push(`${s.name}: ${s.bars} bars, ${s.key}, ${Math.round(s.tempo)} bpm${s.mood ? ", " + s.mood : ""}`);
    }
    if (cue.loop) parts.push("loop");
    return parts.join("; ");
  }
  const shown = ["style", "mood", "key", "tempo", "meter", "bars", "seconds", "instruments", "task", "region"];
  for (const name of shown) {
    const value = conditions[name];
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) parts.push(`${name} ${value.join(", ")}`);
    else if (typeof value !== "object") parts.push(`${name} ${value}`);
  }
  return parts.join("; ");
}

function sourcesText(sources) {
  if (!Array.isArray(sources) || !sources.length) return "";
  return sources
    .map((s) => `${s.name || s.kind || "?"} (${s.licence || "licence unknown"}${s.pieces ? ", " + s.pieces + " pieces" : ""})`)
    .join(", ");
}

function spans(items, label, limit = 12) {
  if (!Array.isArray(items) || !items.length) return "";
  const shown = items.slice(0, limit).map(label).join(", ");
  return items.length > limit ? `${shown}, … (${items.length} in all)` : shown;
}

function showAnalysis(analysis) {
  const list = $("analysis");
  const seconds = (x) => `${Number(x).toFixed(1)} s`;
  fact(list, "Key", spans(analysis.key, (k) => `${k.label} from ${seconds(k.start)}`));
  fact(list, "Tempo", spans(analysis.tempo, (t) => `${Math.round(t.bpm)} bpm from ${seconds(t.start)}`));
  fact(list, "Meter", spans(analysis.time_signature, (t) => `${t.numerator}/${t.denominator}`));
  fact(list, "Bars", analysis.bars);
  fact(list, "Chords", spans(analysis.chords, (c) => c.label, 16));
  fact(list, "Sections", spans(analysis.sections, (s) => `${s.label} ${seconds(s.start)}-${seconds(s.end)}`));
  $("analysis-block").hidden = !list.children.length;
}

function showProvenance(record) {
  $("provenance-block").hidden = false;
  const list = $("provenance");
  const model = record.model;
  fact(list, "Model", model ? `${model.name} (${model.family}), weights sha256 ${String(model.weights_sha256).slice(0, 16)}…` : "none: nothing was composed, every note is yours");
  fact(list, "Seed", record.seed);
  const conditions = record.conditions || {};
  const prompt = conditions.asked && conditions.asked.prompt;
  fact(list, "Prompt", prompt);
  fact(list, "Conditions", conditionText(conditions));
  if (conditions.source && typeof conditions.source === "object") {
    fact(list, "Your file", `sha256 ${String(conditions.source.sha256 || "").slice(0, 16)}…`);
  }
  const sources = sourcesText(record.training_sources);
  fact(list, "Trained on", sources);
  const signature = record.signature || {};
  const trained = `a model trained on ${sources || "sources the record does not name"}`;
  let made = `Composed by cadenza ${record.cadenza_version} with ${trained}`;
  if (!model) made = `Your music, given to new parts by cadenza ${record.cadenza_version}; nothing composed`;
  else if (conditions.source) made = `Your music, with what cadenza ${record.cadenza_version} composed with ${trained}`;
  const signed = signature.signer ? `signed by ${signature.signer} (key ${signature.key_id}, ${signature.algorithm})` : "not signed";
  fact(list, "Licence and ownership", `${made}; ${signed}.`);
  fact(list, "Music sha256", record.music_sha256);
  fact(list, "Made", record.created);
}

function showOriginality(report) {
  $("originality-block").hidden = false;
  const box = $("originality");
  if (report.checked === false) {
    box.append(element("p", `Not checked: ${report.reason || "no reason given"}.`, "verdict"));
    return;
  }
  const flagged = Boolean(report.flagged);
  const verdict = flagged
    ? `Flagged at ${report.level}: it holds a passage found in the training set (${(report.copies || []).map((c) => c.id).slice(0, 3).join(", ")}).`
    : `Original at ${report.level}: no passage copies a training piece.`;
  box.append(element("p", verdict, flagged ? "verdict flagged" : "verdict ok"));

  const lines = [];
  const base = report.human_baseline || {};
  let share = `${percent(report.share_found)} of its ${report.fingerprints} patterns occur in the training set`;
  if (base.share_found && base.share_found.p50 !== undefined) {
    share += ` (human pieces of the corpus: median ${percent(base.share_found.p50)})`;
  }
  lines.push(share + ".");
  const longest = report.longest_shared;
  lines.push(
    longest
      ? `Longest shared passage: ${longest.notes} notes (${longest.identical} identical), bars ${longest.bars.join("-")} of the ${longest.line}, from ${longest.id} (${longest.source}, ${longest.licence}).`
      : "No passage is shared with a training piece.",
  );
  if (report.covers) lines.push(`It covers ${report.covers}.`);
  if (report.repairs && report.repairs.length) lines.push(`${report.repairs.length} passage(s) were composed again.`);
  for (const line of lines) box.append(element("p", line));

  const nearest = report.nearest || [];
  if (nearest.length) {
    const table = element("table");
    table.append(element("caption", "Closest training pieces"));
    const head = element("tr");
    for (const h of ["piece", "source", "licence", "shared notes", "bits"]) head.append(element("th", h));
    table.append(head);
    for (const n of nearest) {
      const row = element("tr");
      for (const v of [n.id, n.source, n.licence, n.shared_notes, Math.round(n.bits)]) row.append(element("td", v));
      table.append(row);
    }
    const wrap = element("div", null, "table-wrap");
    wrap.append(table);
    box.append(wrap);
  }
  box.append(element("p", "A flag means “this passage is in the training set”, not a legal verdict.", "hint"));
}

// ---- running a job ------------------------------------------------------------------

async function run(start) {
  if (current) current.abort.abort();
  const abort = new AbortController();
  current = { id: null, abort };
  showError("");
  clearOutput();
  busy(true);
  try {
    const job = await start();
    current.id = job.id;
    showJob(job);
    const final = FINAL.has(job.status) ? job : await follow(job.id, abort.signal);
    if (final.status === "done") await showResult(final);
    else if (final.status === "failed") showError(final.error || "the job failed");
    else $("empty").hidden = false;
  } catch (error) {
    if (error.name !== "AbortError") showError(error.message);
  } finally {
    if (current && current.abort === abort) {
      current = null;
      busy(false);
    }
  }
}

function numberOf(id) {
  const text = $(id).value.trim();
  return text === "" ? undefined : Number(text);
}

function textOf(id) {
  const text = $(id).value.trim();
  return text === "" ? undefined : text;
}

function generateBody() {
  const instruments = textOf("instruments");
  const body = {
    prompt: textOf("prompt"),
    mood: textOf("mood"),
    style: textOf("style"),
    key: textOf("key"),
    tempo: numberOf("tempo"),
    seconds: numberOf("seconds"),
    instruments: instruments ? instruments.split(",").map((s) => s.trim()).filter(Boolean) : undefined,
    loop: $("loop").checked || undefined,
    stems: $("stems").checked || undefined,
    model: textOf("model"),
    seed: numberOf("seed"),
  };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

function taskOptions(task) {
  const visible = (id) => !$(id).closest(".field").hidden;
  const options = {};
  if (visible("task-bars") && textOf("task-bars")) {
    options.bars = task === "continue" ? Number(textOf("task-bars")) : textOf("task-bars");
  }
  if (visible("task-tracks") && textOf("task-tracks")) options.tracks = textOf("task-tracks");
  if (visible("task-style")) options.style = textOf("task-style");
  if (visible("task-amount") && numberOf("task-amount") !== undefined) options.amount = numberOf("task-amount");
  if (visible("task-instruments") && textOf("task-instruments")) options.instruments = textOf("task-instruments");
  if (visible("task-model") && textOf("task-model")) options.model = textOf("task-model");
  if (visible("task-seed") && numberOf("task-seed") !== undefined) options.seed = numberOf("task-seed");
  return options;
}

function showTaskFields() {
  const task = $("task").value;
  for (const field of document.querySelectorAll("#task-form [data-tasks]")) {
    field.hidden = !field.dataset.tasks.split(" ").includes(task);
  }
  $("task-bars").placeholder = task === "continue" ? "8" : task === "infill" ? "e.g. 9-12" : "all, or e.g. 1-8";
  $("task-instruments").placeholder = task === "arrange" ? "e.g. violin,violin,viola,cello" : "piano,bass";
  $("task-help").textContent = TASK_HELP[task] || "";
  $("run-task").textContent = UPLOAD_KINDS.has(task) ? "Check" : "Run task";
}

async function loadModels() {
  try {
    const { models } = await api("/api/models");
    const general = $("model");
    const sketch = $("task-model");
    general.replaceChildren(new Option("default: the right one for the request", ""));
    sketch.replaceChildren(new Option("the task's default", ""));
    for (const m of models || []) {
      const label = `${m.name} (${m.family})`;
      const option = new Option(label, m.name);
      if (m.description) option.title = m.description;
      general.append(option);
      if (m.family === "multitrack") sketch.append(new Option(label, m.name));
    }
  } catch (error) {
    showError(`models: ${error.message}`);
  }
}

function setup() {
  const keyInput = $("api-key");
  keyInput.value = localStorage.getItem(KEY_STORE) || "";
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    keyInput.dispatchEvent(new Event("change"));
  });
  keyInput.addEventListener("change", () => {
    const key = apiKey();
    if (key) localStorage.setItem(KEY_STORE, key);
    else localStorage.removeItem(KEY_STORE);
    loadModels();
  });

  $("generate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run(() => api("/api/generate", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(generateBody()),
    }));
  });

  $("task").addEventListener("change", showTaskFields);
  showTaskFields();
  $("task-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const file = $("sketch-file").files[0];
    if (!file) {
      showError("choose a MIDI or MusicXML file first");
      return;
    }
    const task = $("task").value;
    const form = new FormData();
    form.append("file", file);
    if (task === "verify") {
      const record = $("record-file").files[0];
      if (!record) {
        showError("choose the file's provenance record (.provenance.json) too");
        return;
      }
      form.append("record", record);
    } else {
      form.append("options", JSON.stringify(taskOptions(task)));
    }
    const path = UPLOAD_KINDS.has(task) ? `/api/${task}` : `/api/tasks/${encodeURIComponent(task)}`;
    run(() => api(path, { method: "POST", body: form }));
  });

  $("cancel").addEventListener("click", async () => {
    if (!current || !current.id) return;
    try {
      showJob(await api(`/api/jobs/${encodeURIComponent(current.id)}`, { method: "DELETE" }));
    } catch (error) {
      showError(error.message);
    }
  });

  loadModels();
}

setup();
