// The document view, shared by the dashboard's job page and the playground: each page drawn as
// a picture with the extracted blocks over it (box, type, reading order, OCR confidence), and
// beside it the document's Markdown, block by block, scrolled together. Selecting a block (click,
// or Tab then Enter) shows its text and Markdown and finds it on the other side.
//
//   renderDocument(container, { pages, chunks, pageImage, flowing })
//     pages: the page numbers to show (see pageNumbers); chunks: every chunk, in reading order;
//     pageImage(n): Promise<{ url, width, height }>, the page's picture and its size in the
//     chunks' bbox units (the Horizon-Page-Size header); flowing: the document has no page
//     pictures (an Office, HTML, EPUB or Markdown file, see hasPages): each page (the one page
//     of a text, a slide, a sheet) is drawn as its blocks flowing one after the other.

export const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const TYPES = ["heading", "paragraph", "list", "table", "caption", "figure", "formula", "code", "footnote", "note", "header", "footer", "page_number"];

// Whether a document of this type (a job result's contentType) has page pictures: PDFs and
// images (and results from before the type was kept).
export const hasPages = (contentType) => !contentType || contentType === "application/pdf" || contentType.startsWith("image/");

// A page picture's size from the response header, "W H" in bbox units.
export function pageSize(resp) {
  const [width, height] = (resp.headers.get("horizon-page-size") || "").split(" ").map(Number);
  if (!(width > 0 && height > 0)) throw new Error("the page picture came without its size");
  return { width, height };
}

// The pages a job read: 1 to `count`, unless its chunks lie beyond (a selection such as
// "5-7" reads three pages numbered 5 to 7): then the pages its chunks are on.
export function pageNumbers(count, chunks) {
  const seen = [...new Set(chunks.map((c) => c.page))].sort((a, b) => a - b);
  if (seen.every((p) => p >= 1 && p <= count)) return Array.from({ length: count }, (_, i) => i + 1);
  return seen;
}

// What the last document view holds on to: released when the next one is drawn.
let held = { urls: [], observers: [] };

function legend() {
  return `<ul class="legend" aria-label="Block types">${TYPES.map((t) => `<li><span class="swatch t-${t}"></span>${t.replace("_", " ")}</li>`).join("")}</ul>`;
}

function boxes(chunks, size) {
  return chunks.map(({ chunk, order }) => {
    const [x0, y0, x1, y1] = chunk.bbox;
    const w = Math.max(x1 - x0, 0.5), h = Math.max(y1 - y0, 0.5);
    const conf = chunk.source === "ocr" && chunk.confidence != null ? ` · OCR ${Math.round(chunk.confidence * 100)}%` : "";
    const label = `${order}. ${chunk.type}${conf}`;
    const font = Math.max(size.width / 70, 6);
    return `<g class="block t-${esc(chunk.type)}" data-chunk="${esc(chunk.id)}" data-bbox="${esc(chunk.bbox.join(","))}" tabindex="0" role="button"
        aria-label="${esc(label)}: ${esc(chunk.text.slice(0, 80))}">
      <title>${esc(label)}</title>
      <rect x="${esc(x0)}" y="${esc(y0)}" width="${esc(w)}" height="${esc(h)}"></rect>
      <text x="${esc(x0)}" y="${esc(Math.max(y0 - 1, font))}" font-size="${esc(font)}">${esc(order)}${chunk.source === "ocr" ? ` ${esc(Math.round((chunk.confidence ?? 0) * 100))}%` : ""}</text>
    </g>`;
  }).join("");
}

// A page without a picture: its blocks one after another, each in its type's colour.
function flow(chunks) {
  if (!chunks.length) return `<p class="muted">No blocks.</p>`;
  return chunks.map(({ chunk, order }) => {
    const label = `${order}. ${chunk.type}`;
    const level = chunk.type === "heading" ? ` data-level="${esc(chunk.level || 2)}"` : "";
    return `<div class="flow-block block t-${esc(chunk.type)}"${level} data-chunk="${esc(chunk.id)}" tabindex="0" role="button"
        aria-label="${esc(label)}: ${esc(chunk.text.slice(0, 80))}"><span class="md-order">${esc(order)}</span><div class="flow-text">${esc(chunk.text)}</div></div>`;
  }).join("");
}

export function renderDocument(container, { pages, chunks, pageImage, flowing = false }) {
  held.urls.forEach((u) => URL.revokeObjectURL(u));
  held.observers.forEach((o) => o.disconnect());
  held = { urls: [], observers: [] };
  const byPage = new Map();
  chunks.forEach((chunk, i) => {
    if (!byPage.has(chunk.page)) byPage.set(chunk.page, []);
    byPage.get(chunk.page).push({ chunk, order: i + 1 });
  });
  const numbers = pages;
  container.innerHTML = `<div class="docview">
    ${legend()}
    <div class="docpanes">
      <section class="pages" aria-label="Pages" tabindex="-1">
        ${numbers.map((n) => `<figure class="page" data-page="${esc(n)}"><figcaption>Page ${esc(n)}</figcaption>
          <div class="sheet"><p class="muted loading">Drawing page ${esc(n)}…</p></div></figure>`).join("")}
      </section>
      <section class="markdown" aria-label="Markdown" tabindex="-1">
        ${numbers.map((n) => `<div class="md-page" data-md-page="${esc(n)}"><div class="md-marker">page ${esc(n)}</div>
          ${(byPage.get(n) || []).map(({ chunk, order }) => `<div class="md-block t-${esc(chunk.type)}" data-md-chunk="${esc(chunk.id)}" tabindex="0" role="button"
            aria-label="Block ${esc(order)}, ${esc(chunk.type)}"><span class="md-order">${esc(order)}</span><pre>${esc(chunk.markdown || chunk.text)}</pre></div>`).join("") || `<p class="muted">No blocks.</p>`}
        </div>`).join("")}
      </section>
    </div>
    <aside class="inspector" aria-live="polite"><p class="muted">Select a block (click it, or Tab to it and press Enter) to see its text and Markdown.</p></aside>
  </div>`;
  const pagesPane = container.querySelector(".pages");
  const mdPane = container.querySelector(".markdown");
  const inspector = container.querySelector(".inspector");
  const byId = new Map(chunks.map((c, i) => [c.id, { chunk: c, order: i + 1 }]));

  // Pages are drawn as they come near the screen.
  const draw = async (figure) => {
    const n = Number(figure.dataset.page);
    const sheet = figure.querySelector(".sheet");
    if (flowing) {
      sheet.classList.add("flowing");
      sheet.innerHTML = flow(byPage.get(n) || []);
      figure.dataset.drawn = "true";
      return;
    }
    try {
      const { url, width, height } = await pageImage(n);
      held.urls.push(url);
      const size = `${esc(width)} ${esc(height)}`;
      sheet.innerHTML = `<img src="${esc(url)}" alt="Page ${esc(n)}" width="${esc(width)}" height="${esc(height)}">
        <svg class="overlay" viewBox="0 0 ${size}" preserveAspectRatio="none" data-page-size="${size}">${boxes(byPage.get(n) || [], { width, height })}</svg>`;
      figure.dataset.drawn = "true";
    } catch (e) {
      sheet.innerHTML = `<p class="error">Page ${n} cannot be shown: ${esc(e.message)}</p>`;
      figure.dataset.drawn = "error";
    }
  };
  const near = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) { near.unobserve(e.target); draw(e.target); }
  }, { root: pagesPane, rootMargin: "600px" });
  held.observers.push(near);
  pagesPane.querySelectorAll("figure.page").forEach((f) => near.observe(f));

  // Scrolled together: the Markdown follows the page in view, and the reverse. The pane the
  // reader moves leads for a moment; the other one's scrolling (ours) does not echo back.
  let leading = null;
  let leadTimer = null;
  const lead = (pane) => {
    leading = pane;
    clearTimeout(leadTimer);
    leadTimer = setTimeout(() => { leading = null; }, 400);
  };
  // The panes are positioned: a child's offsetTop is measured from its pane.
  const scrollTo = (pane, el, margin = 8) => { pane.scrollTop = Math.max(el.offsetTop - margin, 0); };
  const follow = (from, to, attr, target) => new IntersectionObserver((entries) => {
    if (leading && leading !== from) return;
    const seen = entries.filter((e) => e.isIntersecting).sort((a, b) => a.boundingClientRect.top - b.boundingClientRect.top)[0];
    if (!seen) return;
    const peer = to.querySelector(`[${target}="${seen.target.getAttribute(attr)}"]`);
    if (!peer) return;
    lead(from);
    scrollTo(to, peer);
  }, { root: from, threshold: 0.25 });
  const fromPages = follow(pagesPane, mdPane, "data-page", "data-md-page");
  const fromMd = follow(mdPane, pagesPane, "data-md-page", "data-page");
  held.observers.push(fromPages, fromMd);
  pagesPane.querySelectorAll("figure.page").forEach((f) => fromPages.observe(f));
  mdPane.querySelectorAll(".md-page").forEach((d) => fromMd.observe(d));
  for (const pane of [pagesPane, mdPane]) {
    for (const what of ["wheel", "touchstart", "keydown", "pointerdown"]) pane.addEventListener(what, () => lead(pane), { passive: true });
  }

  // The inspector shows a block (hovered or selected).
  const show = (id) => {
    const found = byId.get(id);
    if (!found) return null;
    const { chunk, order } = found;
    const conf = chunk.confidence != null ? ` · confidence ${(chunk.confidence * 100).toFixed(0)}%` : "";
    inspector.innerHTML = `<h3>Block ${esc(order)}: ${esc(chunk.type)}${chunk.level ? ` (level ${esc(chunk.level)})` : ""}</h3>
      <p class="muted">page ${esc(chunk.page)} · read from ${esc(chunk.source)}${esc(conf)} · bbox [${esc(chunk.bbox.map((v) => Math.round(v * 10) / 10).join(", "))}]
      ${chunk.headings?.length ? `<br>under ${chunk.headings.map(esc).join(" › ")}` : ""}</p>
      <h4>Text</h4><pre data-selected-text>${esc(chunk.text)}</pre><h4>Markdown</h4><pre data-selected-markdown>${esc(chunk.markdown)}</pre>`;
    return chunk;
  };
  let selected = null;
  const select = (id, from) => {
    const chunk = show(id);
    if (!chunk) return;
    selected = id;
    container.querySelectorAll(".selected").forEach((el) => el.classList.remove("selected"));
    container.querySelectorAll(`[data-chunk="${CSS.escape(id)}"], [data-md-chunk="${CSS.escape(id)}"]`).forEach((el) => el.classList.add("selected"));
    lead(from);
    if (from !== mdPane) {
      const md = mdPane.querySelector(`[data-md-chunk="${CSS.escape(id)}"]`);
      if (md) scrollTo(mdPane, md, 20);
    }
    if (from !== pagesPane) {
      const figure = pagesPane.querySelector(`figure[data-page="${chunk.page}"]`);
      if (figure) scrollTo(pagesPane, figure);
    }
  };
  const pick = (e) => {
    const box = e.target.closest("[data-chunk]");
    const md = e.target.closest("[data-md-chunk]");
    if (box) select(box.dataset.chunk, pagesPane);
    else if (md) select(md.dataset.mdChunk, mdPane);
  };
  container.addEventListener("click", pick);
  container.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      if (e.target.closest("[data-chunk], [data-md-chunk]")) { e.preventDefault(); pick(e); }
    }
  });
  container.addEventListener("mouseover", (e) => {
    const box = e.target.closest("[data-chunk]");
    if (box) show(box.dataset.chunk);
  });
  container.addEventListener("mouseleave", () => { if (selected) show(selected); });
}

// Every chunk of a job, through a paging function: next(cursor) -> { chunks, cursor }.
export async function allChunks(next) {
  const out = [];
  let cursor = null;
  for (let i = 0; i < 1000; i++) {
    const page = await next(cursor);
    out.push(...page.chunks);
    cursor = page.cursor;
    if (!cursor) break;
  }
  return out;
}
