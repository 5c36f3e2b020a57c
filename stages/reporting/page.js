// The report's list: every seed's record, filtered and paged in the browser (no server, no network).
"use strict";
const PAGE = 50;
const records = JSON.parse(document.getElementById("records").textContent);
const settings = JSON.parse(document.getElementById("settings").textContent);
const bySeed = new Map(records.map(r => [r.seed, r]));
const state = { q: "", status: "", reason: "", rule: "", model: "", sentence: "", opening: "", page: 0 };
const decided = [];

function $(id) { return document.getElementById(id); }
function esc(text) { return String(text).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]); }
function normalize(text) { return text.toLowerCase().replace(/[^\p{L}\p{N}_\s]+/gu, "").split(/\s+/).filter(Boolean).join(" "); }
function texts(r) { return (r.messages || []).concat(...r.attempts.map(a => a.messages || [])); }
function haystack(r) {
  if (r._hay === undefined) r._hay = (r.seed + "\n" + texts(r).map(m => m[1]).join("\n")).toLowerCase();
  return r._hay;
}
function assistantText(r) {
  if (r._norm === undefined) r._norm = " " + (r.messages || []).filter(m => m[0] === "assistant").map(m => normalize(m[1])).join(" | ") + " ";
  return r._norm;
}
function openingOf(r) {
  const first = (r.messages || []).find(m => m[0] === "assistant");
  return first ? normalize(first[1]).split(" ").slice(0, 5).join(" ") : "";
}
function inDataset(r) { return r.status === "valid" || r.status === "kept"; }

function matches(r) {
  if (state.status && r.status !== state.status) return false;
  if (state.reason && !r.reasons.includes(state.reason) && !r.attempts.some(a => a.reasons.includes(state.reason))) return false;
  if (state.rule && !r.rules.includes(state.rule)) return false;
  if (state.model && r.model !== state.model) return false;
  if (state.sentence && !(inDataset(r) && assistantText(r).includes(state.sentence))) return false;
  if (state.opening && !(inDataset(r) && openingOf(r) === state.opening)) return false;
  return !state.q || haystack(r).includes(state.q);
}

function reasonsOf(r) {
  if (r.reasons.length) return r.reasons.join(", ");
  const earlier = [...new Set(r.attempts.flatMap(a => a.reasons))];
  return earlier.length ? `(earlier attempts: ${earlier.join(", ")})` : "";
}

function firstUser(r) {
  const pool = r.messages || (r.attempts.find(a => a.messages) || {}).messages || [];
  const first = pool.find(m => m[0] === "user");
  return first ? first[1] : "(no conversation)";
}

function render() {
  const shown = records.filter(matches);
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  state.page = Math.min(state.page, pages - 1);
  const rows = shown.slice(state.page * PAGE, (state.page + 1) * PAGE).map(r =>
    `<tr data-seed="${r.seed}"><td>${r.seed}</td><td class="status-${r.status}">${r.status}${r.decision ? " *" : ""}</td>` +
    `<td>${esc(r.model)}</td><td>${esc(reasonsOf(r))}</td><td>${esc(firstUser(r).slice(0, 110))}</td></tr>`);
  $("list").innerHTML = rows.join("");
  $("count").textContent = `${shown.length} of ${records.length} seeds`;
  $("page").textContent = `page ${state.page + 1} of ${pages}`;
}

function highlight(text, quotes) {
  let html = esc(text);
  for (const quote of quotes) {
    if (quote && text.includes(quote)) html = html.split(esc(quote)).join(`<mark>${esc(quote)}</mark>`);
  }
  return html;
}

function messagesHtml(messages, quotes) {
  return messages.map(m => `<div class="msg ${esc(m[0])}"><span class="role">${esc(m[0])}</span>${highlight(m[1], quotes)}</div>`).join("");
}

function attemptHtml(a, number) {
  const quotes = a.problems.map(p => p[1]);
  const said = a.used ? "valid (in use)" : "rejected: " + esc(a.reasons.join(", "));
  const problems = a.problems.map(p => `<div>${esc(p[0])}: <mark>${esc(p[1])}</mark></div>`).join("");
  const body = a.messages ? messagesHtml(a.messages, quotes) : '<div class="muted">no conversation could be read from this answer</div>';
  return `<div class="attempt${a.used ? " used" : ""}"><b>attempt ${number}</b>: ${said}${problems}` +
         (a.used ? "" : `<details class="attempt-body"><summary>the rejected answer</summary>${body}</details>`) + "</div>";
}

function decisionHtml(r) {
  if (!r.digest) return '<p class="muted">No conversation of valid shape: nothing to keep or drop.</p>';
  const standing = r.decision ? `<p>Decision on record: <b>${r.decision.keep ? "keep" : "drop"}</b> ${esc(r.decision.note)}` +
    (r.decision.status === "applies" ? "" : " <b>(not applied: the conversation changed since)</b>") + "</p>" : "";
  return `${standing}<div class="review">Note: <input id="note" size="40"> ` +
    `<button id="keep">Keep</button> <button id="drop">Drop</button></div><code class="cmd" id="command"></code>`;
}

function quote(text) { return "'" + text.replace(/'/g, "'\\''") + "'"; }

function decide(r, keep) {
  const note = $("note").value.trim();
  const command = `make review SEED=${r.seed} KEEP=${keep ? 1 : 0}` + (note ? ` NOTE=${quote(note)}` : "") +
    ` DIGEST=${r.digest}${settings.review_args}`;
  $("command").textContent = command;
  decided.push(command);
  $("commands").value = decided.join("\n");
  $("decisions").hidden = false;
}

function open(seed) {
  const r = bySeed.get(seed);
  if (!r) return;
  const axes = Object.entries(r.axes).map(([k, v]) => `${esc(k)}: ${esc(v)}`).join("; ");
  const dup = r.duplicate ? `<p>Dropped as a ${esc(r.duplicate.kind)} duplicate of <a href="#" data-pair="${r.seed}">seed ${r.duplicate.kept_seed}</a> (similarity ${r.duplicate.similarity}).</p>` : "";
  const conversation = r.messages ? messagesHtml(r.messages, []) : '<p class="muted">No valid conversation.</p>';
  $("detail").innerHTML = `<h3>Seed ${r.seed} <span class="status-${r.status}">${r.status}</span></h3>` +
    `<p class="muted">${esc(r.model)} · ${axes}${r.digest ? " · conversation " + r.digest : ""}</p>${dup}` +
    decisionHtml(r) + `<h4>Conversation</h4>${conversation}<h4>Attempts</h4>` + r.attempts.map(attemptHtml).join("");
  $("detail").hidden = false;
  if (r.digest) { $("keep").onclick = () => decide(r, true); $("drop").onclick = () => decide(r, false); }
  $("detail").scrollIntoView();
}

function side(seed) {
  const r = bySeed.get(seed);
  return `<div><h4>seed ${seed} (${r ? r.status : "not in this report"})</h4>${r && (r.messages || []).length ? messagesHtml(r.messages, []) : ""}</div>`;
}

function openPair(seed) {
  const r = bySeed.get(seed);
  $("detail").innerHTML = `<h3>Seed ${seed} beside seed ${r.duplicate.kept_seed} (${esc(r.duplicate.kind)}, similarity ${r.duplicate.similarity})</h3>` +
    `<div class="sides">${side(r.duplicate.kept_seed)}${side(seed)}</div>`;
  $("detail").hidden = false;
  $("detail").scrollIntoView();
}

function setFilter(name, value) {
  state[name] = value;
  state.page = 0;
  render();
}

function filterTo(name, value) {
  for (const key of ["q", "status", "reason", "rule", "model", "sentence", "opening"]) state[key] = "";
  $("search").value = "";
  for (const select of document.querySelectorAll("#filters select")) select.value = "";
  $("linked").textContent = `${name}: ${value}`;
  $("clear").hidden = false;
  setFilter(name, value);
  $("filters").scrollIntoView();
}

function fillSelect(id, values) {
  $(id).innerHTML += [...new Set(values)].sort().map(v => `<option>${esc(v)}</option>`).join("");
}

function start() {
  fillSelect("status", records.map(r => r.status));
  fillSelect("reason", records.flatMap(r => r.reasons.concat(...r.attempts.map(a => a.reasons))));
  fillSelect("rule", records.flatMap(r => r.rules));
  fillSelect("model", records.map(r => r.model));
  let timer = null;
  $("search").oninput = e => { clearTimeout(timer); timer = setTimeout(() => setFilter("q", e.target.value.trim().toLowerCase()), 150); };
  for (const id of ["status", "reason", "rule", "model"]) $(id).onchange = e => setFilter(id, e.target.value);
  $("prev").onclick = () => { state.page = Math.max(0, state.page - 1); render(); };
  $("next").onclick = () => { state.page += 1; render(); };
  $("clear").onclick = () => { state.sentence = state.opening = ""; $("linked").textContent = ""; $("clear").hidden = true; render(); };
  $("list").onclick = e => { const row = e.target.closest("tr"); if (row) open(Number(row.dataset.seed)); };
  document.body.addEventListener("click", e => {
    const link = e.target.closest("a[data-sentence], a[data-opening], a[data-pair], a[data-seed]");
    if (!link) return;
    e.preventDefault();
    if (link.dataset.sentence !== undefined) filterTo("sentence", normalize(link.dataset.sentence));
    else if (link.dataset.opening !== undefined) filterTo("opening", link.dataset.opening);
    else if (link.dataset.pair !== undefined) openPair(Number(link.dataset.pair));
    else open(Number(link.dataset.seed));
  });
  $("copy").onclick = () => { $("commands").select(); document.execCommand("copy"); };
  render();
  document.body.dataset.ready = "1";
}
start();
