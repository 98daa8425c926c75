// The newsqa page: plain JavaScript over the JSON API (no build step, no framework).
"use strict";

const $ = (id) => document.getElementById(id);
const NOT_SAID = "The article does not say.";
let pasted = { key: null, id: null }; // the pasted text or file last sent, and its article id

// A server started with --token: open the page as /#token=TOKEN once; it stays in this tab.
if (location.hash.startsWith("#token=")) {
  sessionStorage.setItem("newsqa-token", decodeURIComponent(location.hash.slice(7)));
  history.replaceState(null, "", location.pathname);
}

async function api(method, path, body, type = "application/json") {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem("newsqa-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = type;
  const payload = body === undefined || type !== "application/json" ? body : JSON.stringify(body);
  const response = await fetch(path, { method, headers, body: payload });
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

async function loadLibrary() {
  const select = $("article");
  for (const article of await api("GET", "/articles")) {
    const option = document.createElement("option");
    option.value = article.id;
    const dated = article.published ? ` (${article.published})` : "";
    option.textContent = (article.title || article.id) + dated;
    select.append(option);
  }
  if (select.options.length === 2) select.value = "paste"; // an empty library: paste one
  const stories = (await api("GET", "/stories")).filter((s) => s.article_ids.length > 1);
  if (stories.length) {
    const group = document.createElement("optgroup");
    group.label = "Stories (every article about one event)";
    for (const story of stories) {
      const option = document.createElement("option");
      option.value = `story:${story.id}`;
      const span = story.first ? `, ${story.first} to ${story.last}` : "";
      option.textContent = `${story.title} (${story.article_ids.length} articles${span})`;
      group.append(option);
    }
    select.append(group);
  }
  showPasteBox();
}

// What to read: { story } for a story, else { article } (an id, or null for the library).
async function chosenScope() {
  const choice = $("article").value;
  if (choice.startsWith("story:")) return { story: Number(choice.slice(6)) };
  return { article: await chosenArticle() };
}

function showPasteBox() {
  $("paste-box").hidden = $("article").value !== "paste";
}

// The article id to read: a library article, the pasted text or file (sent once), or null.
async function chosenArticle() {
  const choice = $("article").value;
  if (choice !== "paste") return choice || null;
  const file = $("file").files[0];
  const text = $("text").value;
  const keep = $("keep").checked;
  const key = file ? `file:${file.name}:${file.size}:${file.lastModified}:${keep}` : `${keep}:${text}`;
  if (key === pasted.key) return pasted.id;
  let added;
  if (file) {
    const query = new URLSearchParams({ name: file.name, keep });
    added = await api("POST", `/articles/upload?${query}`, file, "application/octet-stream");
  } else {
    if (!text.trim()) throw new Error("paste an article first, or open a file");
    added = await api("POST", "/articles", { text, keep });
  }
  pasted = { key, id: added.id };
  return added.id;
}

async function busy(work) {
  const buttons = [$("ask"), $("summarize")];
  buttons.forEach((b) => (b.disabled = true));
  $("status").textContent = "Working…";
  $("result").replaceChildren();
  try {
    await work();
    $("status").textContent = "";
  } catch (error) {
    $("status").textContent = "";
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = `Error: ${error.message}`;
    $("result").replaceChildren(p);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

async function ask(event) {
  event.preventDefault();
  await busy(async () => {
    const scope = await chosenScope();
    const answer = await api("POST", "/ask", { question: $("question").value, ...scope });
    const parts = [];
    if (answer.answerable) {
      parts.push(element("p", "answer", answer.text));
      const calibration = answer.calibrated === false ? ", uncalibrated" : "";
      parts.push(element("p", "confidence", `confidence ${answer.confidence.toFixed(2)}${calibration}`));
    } else {
      parts.push(element("p", "unanswerable", NOT_SAID));
    }
    if (answer.sources && answer.sources.length) parts.push(sourceList(answer.sources));
    await showResult(parts, answer, scope.article);
  });
}

async function summarize(event) {
  event.preventDefault();
  await busy(async () => {
    const scope = await chosenScope();
    const words = Number($("words").value) || 60;
    const summary = await api("POST", "/summarize", { ...scope, words });
    if (scope.story === undefined) {
      await showResult([element("p", "summary", summary.text)], summary, scope.article);
      return;
    }
    // A story's summary: each sentence with the number of the article it comes from.
    const numbers = new Map();
    const text = element("p", "summary", "");
    summary.sentences.forEach((sentence, index) => {
      const cited = summary.evidence[index];
      if (!numbers.has(cited.article_id)) numbers.set(cited.article_id, [numbers.size + 1, cited]);
      text.append(`${sentence} `, element("sup", "cite", `[${numbers.get(cited.article_id)[0]}]`), " ");
    });
    const list = document.createElement("ol");
    list.className = "cited";
    for (const [, cited] of numbers.values()) list.append(element("li", "", cited.title || cited.article_id));
    await showResult([text, list], summary, null);
  });
}

// What each article of a story says to the question, and whether it agrees.
function sourceList(sources) {
  const list = document.createElement("ul");
  list.className = "sources";
  for (const source of sources) {
    const said = source.answerable
      ? `${source.text} (${source.confidence.toFixed(2)}, ${source.agrees ? "agrees" : "differs"})`
      : "does not say";
    const when = source.published || "undated";
    const item = element("li", source.answerable ? (source.agrees ? "agrees" : "differs") : "silent", said);
    item.append(element("span", "source", ` — ${source.title || source.article_id} (${when})`));
    list.append(item);
  }
  const box = document.createElement("div");
  box.append(element("p", "sources-heading", `What the story's ${sources.length} articles say:`), list);
  return box;
}

// The result, its evidence as links, and the article with the evidence highlighted.
async function showResult(parts, result, article) {
  if (result.notice) parts.push(element("p", "notice", `Note: ${result.notice}`));
  const shownId = result.evidence.length ? result.evidence[0].article_id : article;
  const evidence = result.evidence.filter((ev) => ev.article_id === shownId);
  if (evidence.length) {
    const list = document.createElement("ul");
    evidence.forEach((ev, number) => {
      const link = element("a", "", `“${ev.sentence}”`);
      link.href = `#evidence-${number}`;
      link.addEventListener("click", (e) => {
        e.preventDefault();
        const mark = $(`evidence-${number}`);
        if (mark) {
          mark.scrollIntoView({ behavior: "smooth", block: "center" });
          mark.focus({ preventScroll: true });
        }
      });
      const item = document.createElement("li");
      item.append(`Evidence, characters ${ev.start}–${ev.end}: `, link);
      list.append(item);
    });
    parts.push(list);
  }
  $("result").replaceChildren(...parts);
  if (shownId) await showArticle(shownId, evidence);
}

async function showArticle(id, evidence) {
  const article = await api("GET", `/articles/${encodeURIComponent(id)}`);
  $("article-title").textContent = article.title || "";
  $("article-text").replaceChildren(...highlighted(article.text, evidence));
  const first = $("evidence-0");
  if (first) first.scrollIntoView({ block: "center" });
}

// The article as text nodes, each evidence sentence in a <mark> and its quoted span in bold.
function highlighted(text, evidence) {
  const spans = evidence
    .map((ev, number) => {
      const from = Math.max(0, ev.start - ev.sentence.length);
      let start = text.indexOf(ev.sentence, from);
      let end = start + ev.sentence.length;
      if (start < 0 || start > ev.start || end < ev.end) [start, end] = [ev.start, ev.end];
      return { number, start, end, ev };
    })
    .sort((a, b) => a.start - b.start);
  const nodes = [];
  let cursor = 0;
  for (const span of spans) {
    if (span.start < cursor) continue; // overlaps the previous one
    nodes.push(document.createTextNode(text.slice(cursor, span.start)));
    const mark = document.createElement("mark");
    mark.className = "evidence";
    mark.id = `evidence-${span.number}`;
    mark.tabIndex = -1;
    const { start, end } = span.ev;
    mark.append(text.slice(span.start, start), element("span", "span", text.slice(start, end)));
    mark.append(text.slice(end, span.end));
    nodes.push(mark);
    cursor = span.end;
  }
  nodes.push(document.createTextNode(text.slice(cursor)));
  return nodes;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = text;
  return node;
}

$("article").addEventListener("change", showPasteBox);
$("ask-form").addEventListener("submit", ask);
$("summarize-form").addEventListener("submit", summarize);
loadLibrary().catch((error) => ($("status").textContent = `Error: ${error.message}`));
