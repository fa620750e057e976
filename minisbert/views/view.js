// minisbert views: draws the JSON in <script id="minisbert-data"> (see minisbert/views/__init__.py).
// No library, no network: plain DOM and <canvas>. Each panel listed in data.panels is one <section>.
(function () {
  "use strict";
  const started = performance.now();
  const D = JSON.parse(document.getElementById("minisbert-data").textContent);
  const parsed = performance.now();
  const root = document.getElementById("minisbert");
  const ROW = 18; // pixels per token row in the head and neuron views
  const BOX_ROWS = 32; // token rows a head or neuron view shows at once; a longer input scrolls in its box
  const TOP_K = 8; // the hovered token's strongest weights written out as numbers
  const LEVELS = 20; // opacity levels of the head view's lines
  const S = D.scale || 1; // attention, q and k come as whole numbers: value * S (see the Python docstring)

  // ---- helpers -------------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }
  function headColor(h, n, alpha) { return `hsla(${Math.round((360 * h) / n)}, 75%, 42%, ${alpha})`; }
  function select(label, options, value, onchange) {
    const s = el("select", { "aria-label": label, onchange: () => onchange(Number(s.value)) });
    options.forEach((text, i) => s.append(el("option", { value: String(i) }, text)));
    s.value = String(value);
    return el("label", {}, label + " ", s);
  }
  function section(cls, title, text) {
    const s = el("section", { class: "panel " + cls }, el("h2", {}, title), el("p", { class: "about" }, text));
    if (D.note) s.append(el("p", { class: "note" }, D.note));
    root.append(s);
    return s;
  }
  function fmt(x) { return x.toFixed(3); }
  // A diverging colour: blue for negative, red for positive, white at 0; v in [-1, 1].
  function diverging(v) {
    const t = Math.max(-1, Math.min(1, v));
    const a = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
  }
  // A sequential colour for weights in [0, 1]: white to dark blue.
  function sequential(v) {
    const t = Math.max(0, Math.min(1, v));
    return [Math.round(255 - 230 * t), Math.round(255 - 200 * t), Math.round(255 - 100 * t)];
  }

  // ---- the input whose attention a head panel draws --------------------------------------------------
  // together: the one input of the page. separately: the two sentences each through BERT on its own (the
  // bi-encoder), stacked; a query of one never weighs a key of the other, so those weights are 0.
  function together() {
    return { tokens: D.tokens, segments: D.segments, w: (l, h, i, j) => D.attention[l][h][i][j] / S };
  }
  function separately() {
    const [a, b] = D.separate, n = a.tokens.length;
    return {
      tokens: a.tokens.concat(b.tokens),
      segments: a.tokens.map(() => 0).concat(b.tokens.map(() => 1)),
      w: (l, h, i, j) => (i < n) !== (j < n) ? 0 : (i < n ? a.attention[l][h][i][j] : b.attention[l][h][i - n][j - n]) / S,
    };
  }

  // ---- head view (and pair view) ---------------------------------------------------------------------
  // Each column is a box of at most BOX_ROWS token rows; a longer input scrolls inside it (the two columns
  // together, unless a hovered token has moved the other one to its strongest partner). A line's opacity
  // and width are its weight relative to the largest weight of its query's row: a raw weight is about 1/T,
  // which on a long input would leave every line invisible.
  const headPanels = [];
  function headPanel(pair) {
    const A = D.heads;
    const sec = pair
      ? section("pair", "Pair view: a cross-encoder input",
          "[CLS] A [SEP] B [SEP] through BERT at once. Show only attention from A to B, or switch to the " +
          "two sentences encoded separately (the bi-encoder): then no line joins them. A line's opacity is " +
          "its weight relative to the strongest of its query's row.")
      : section("head", "Head view",
          "Queries on the left, keys on the right, one colour per head; a line's opacity and width are its " +
          "weight relative to the strongest weight of its query's row. Hover a token to keep only its " +
          "lines and read its strongest weights; click a head's button to show or hide it.");
    const st = { layer: D.layer || 0, heads: new Set(D.selected_heads || [0]), focus: null, filter: 0, bi: false };
    const controls = el("div", { class: "controls" });
    controls.append(select("layer", Array.from({ length: D.layers }, (_, i) => String(i)), st.layer,
      (v) => { st.layer = v; draw(); }));
    const buttons = [];
    const headBox = el("span", { class: "heads" }, "heads ");
    for (let h = 0; h < A; h++) {
      const b = el("button", { class: "head-button", "data-head": String(h), style: `--c:${headColor(h, A, 1)}`,
        onclick: () => { st.heads.has(h) ? st.heads.delete(h) : st.heads.add(h); draw(); } }, String(h));
      buttons.push(b);
      headBox.append(b);
    }
    controls.append(headBox);
    const FILTERS = ["all", "A → B", "B → A", "within A", "within B"];
    if (pair) {
      controls.append(select("show", FILTERS, 0, (v) => { st.filter = v; draw(); }));
      const box = el("input", { type: "checkbox", class: "bi-toggle", onchange: () => { st.bi = box.checked; build(); } });
      controls.append(el("label", {}, box, " encoded separately (bi-encoder)"));
    }
    sec.append(controls);
    const share = el("p", { class: "share" });
    if (pair) sec.append(share);
    const hint = el("p", { class: "about long-hint" });
    sec.append(hint);
    const left = el("div", { class: "col left" }), right = el("div", { class: "col right" });
    const canvas = el("canvas", { class: "lines" });
    const weights = el("div", { class: "weights" });
    sec.append(el("div", { class: "columns" }, left, canvas, right, weights));
    let src = together(), maxes = new Map();

    function keep(i, j) {
      const s = src.segments;
      switch (st.filter) {
        case 1: return s[i] === 0 && s[j] === 1;
        case 2: return s[i] === 1 && s[j] === 0;
        case 3: return s[i] === 0 && s[j] === 0;
        case 4: return s[i] === 1 && s[j] === 1;
        default: return true;
      }
    }
    // The largest weight of each query's row (over all keys), per layer and head: what a line is scaled by.
    function rowMax(l, h) {
      const key = l + ":" + h;
      if (!maxes.has(key)) {
        const n = src.tokens.length, m = new Float32Array(n);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i] = Math.max(m[i], src.w(l, h, i, j));
        maxes.set(key, m);
      }
      return maxes.get(key);
    }
    function tokenDiv(t, i, side) {
      const w = el("span", { class: "w" });
      const d = el("div", { class: "tok seg" + src.segments[i], "data-index": String(i) },
        ...(side === "left" ? [w, el("span", { class: "t" }, t)] : [el("span", { class: "t" }, t), w]));
      d.addEventListener("mouseenter", () => { st.focus = { side, i }; draw(); });
      d.addEventListener("mouseleave", () => { st.focus = null; draw(); });
      return d;
    }
    function build() {
      src = st.bi ? separately() : together();
      maxes = new Map();
      const n = src.tokens.length, H = Math.min(n, BOX_ROWS) * ROW;
      left.replaceChildren(...src.tokens.map((t, i) => tokenDiv(t, i, "left")));
      right.replaceChildren(...src.tokens.map((t, i) => tokenDiv(t, i, "right")));
      for (const col of [left, right]) { col.style.height = H + "px"; col.scrollTop = 0; }
      hint.textContent = n > BOX_ROWS
        ? `${n} tokens: each column scrolls (together, until a hovered token brings its strongest partner ` +
          "into view in the other)."
        : "";
      draw();
    }
    // Scrolling one column scrolls the other by as much, unless a token is hovered: then the other column
    // stays where the hover put it.
    for (const [col, other] of [[left, right], [right, left]]) {
      col.addEventListener("scroll", () => {
        if (!st.focus && Math.abs(other.scrollTop - col.scrollTop) > 0.5) other.scrollTop = col.scrollTop;
        drawLines();
      });
    }
    // The hovered token's partners in the other column, strongest first: [index, weight, head] with the
    // weight the largest over the heads shown.
    function partners() {
      const f = st.focus, n = src.tokens.length, best = new Map();
      for (const h of st.heads) {
        for (let k = 0; k < n; k++) {
          const [i, j] = f.side === "left" ? [f.i, k] : [k, f.i];
          if (!keep(i, j)) continue;
          const w = src.w(st.layer, h, i, j);
          if (!best.has(k) || w > best.get(k)[1]) best.set(k, [k, w, h]);
        }
      }
      return [...best.values()].sort((a, b) => b[1] - a[1]);
    }
    function showWeights() {
      const f = st.focus, heads = [...st.heads].sort((a, b) => a - b);
      for (const col of [left, right]) for (const d of col.children) d.querySelector(".w").textContent = "";
      if (!f || !heads.length) {
        weights.replaceChildren(el("p", { class: "about" }, "Hover a token: its strongest weights appear here and " +
          "beside the tokens, as numbers."));
        return;
      }
      const other = f.side === "left" ? right : left, ranked = partners();
      ranked.slice(0, TOP_K).forEach(([k, w]) => { other.children[k].querySelector(".w").textContent = fmt(w); });
      // Bring the strongest partner into view in the other column, if it is out of sight.
      if (ranked.length) {
        const k = ranked[0][0], top = k * ROW, H = other.clientHeight;
        if (top < other.scrollTop || top + ROW > other.scrollTop + H) other.scrollTop = top + ROW / 2 - H / 2;
      }
      const role = f.side === "left" ? "query" : "key", toward = f.side === "left" ? "keys" : "queries";
      const list = el("div", {}, el("p", { class: "focus" },
        `${role} ${f.i} “${src.tokens[f.i]}”, layer ${st.layer}: strongest ${toward}`));
      for (const h of heads) {
        const row = [];
        for (let k = 0; k < src.tokens.length; k++) {
          const [i, j] = f.side === "left" ? [f.i, k] : [k, f.i];
          if (keep(i, j)) row.push([k, src.w(st.layer, h, i, j)]);
        }
        row.sort((a, b) => b[1] - a[1]);
        const ol = el("ol", { class: "top", "data-head": String(h), style: `--c:${headColor(h, A, 1)}` });
        row.slice(0, TOP_K).forEach(([k, w]) => ol.append(
          el("li", { "data-index": String(k) }, el("span", { class: "num" }, fmt(w)), ` ${k} ${src.tokens[k]}`)));
        list.append(el("p", { class: "head-name", style: `color:${headColor(h, A, 1)}` }, `head ${h}`), ol);
      }
      weights.replaceChildren(list);
    }
    function drawLines() {
      const n = src.tokens.length, W = 200, H = left.clientHeight || Math.min(n, BOX_ROWS) * ROW;
      const dpr = window.devicePixelRatio || 1;
      canvas.width = W * dpr; canvas.height = H * dpr;
      canvas.style.width = W + "px"; canvas.style.height = H + "px";
      const ctx = canvas.getContext("2d");
      ctx.scale(dpr, dpr);
      const f = st.focus, heads = [...st.heads].sort((a, b) => a - b);
      const yl = left.scrollTop, yr = right.scrollTop;
      const shade = new Float32Array(n);
      canvas.drawn = []; // the hovered token's lines as drawn: [query, key, head, y0, y1, opacity], for scripts
      for (const h of heads) {
        const M = rowMax(st.layer, h);
        // One path per opacity level (relative weights rounded to 1/LEVELS): a few strokes per head
        // instead of one per line, which keeps a 512-token input (262,144 lines a head) quick to draw.
        const paths = Array.from({ length: LEVELS + 1 }, () => new Path2D());
        for (let i = 0; i < n; i++) {
          if (f && f.side === "left" && f.i !== i) continue;
          const y0 = i * ROW + ROW / 2 - yl;
          if (!f && (y0 < 0 || y0 > H)) continue; // with no hover, the lines of the queries in sight
          for (let j = 0; j < n; j++) {
            if (f && f.side === "right" && f.i !== j) continue;
            if (!keep(i, j)) continue;
            const w = src.w(st.layer, h, i, j);
            if (f) shade[f.side === "left" ? j : i] = Math.max(shade[f.side === "left" ? j : i], w);
            const level = M[i] > 0 ? Math.round((w / M[i]) * LEVELS) : 0;
            if (level === 0) continue; // under 1/40 of the row's strongest: left out
            const y1 = j * ROW + ROW / 2 - yr;
            if ((y0 < 0 && y1 < 0) || (y0 > H && y1 > H)) continue; // the line misses the box
            paths[level].moveTo(0, y0);
            paths[level].lineTo(W, y1);
            if (f) canvas.drawn.push([i, j, h, y0, y1, level / LEVELS]);
          }
        }
        ctx.strokeStyle = headColor(h, A, 1);
        paths.forEach((p, level) => {
          if (!level) return;
          ctx.globalAlpha = level / LEVELS;
          ctx.lineWidth = 0.75 + (2.25 * level) / LEVELS;
          ctx.stroke(p);
        });
      }
      ctx.globalAlpha = 1;
      // The other column shaded by the weights, relative to the strongest (the numbers say the weight).
      const other = f && f.side === "left" ? right : left, top = Math.max(...shade) || 1;
      for (const col of [left, right]) {
        [...col.children].forEach((d, i) => {
          const focused = f && col !== other && f.i === i, r = shade[i] / top;
          d.style.background = col === other && f ? `rgba(30, 90, 200, ${0.85 * r})` : focused ? "#ffe08a" : "";
          d.style.color = col === other && f && r > 0.6 ? "white" : "";
        });
      }
    }
    function draw() {
      buttons.forEach((b, h) => b.classList.toggle("on", st.heads.has(h)));
      showWeights(); // first: it may scroll the other column, which the lines then follow
      drawLines();
      const shareKey = [st.layer, st.bi, ...st.heads].join();
      if (pair && shareKey !== share.dataset.key) { // not on every hover: it sums T² weights a head
        share.dataset.key = shareKey;
        const heads = [...st.heads].sort((a, b) => a - b), n = src.tokens.length;
        const sA = [], n0 = src.segments.filter((s) => s === 0).length;
        for (const h of heads) {
          let m = 0;
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++)
            if (src.segments[i] === 0 && src.segments[j] === 1) m += src.w(st.layer, h, i, j);
          sA.push(`head ${h}: ${fmt(m / n0)}`);
        }
        share.textContent = `Share of A's attention that goes to B, layer ${st.layer}: ` + (sA.join(" · ") || "no head selected");
      }
    }
    function selectHead(layer, head) {
      st.layer = layer; st.heads = new Set([head]);
      sec.querySelector("select").value = String(layer);
      draw();
      sec.scrollIntoView({ block: "start" });
    }
    headPanels.push(selectHead);
    build();
  }

  // ---- model view ------------------------------------------------------------------------------------
  // Each map shows, per pixel, the largest weight of the block of (query, key) pairs it covers, relative to
  // the largest weight of the query's row: on a long input a raw weight is about 1/T and only the diagonal
  // would show.
  function modelPanel() {
    const sec = section("model", "Model view",
      "Every layer (rows) × head (columns): queries down, keys across, darker is more attention (relative " +
      "to the strongest weight of the query's row). Click a map to open that head in the head view.");
    const n = D.tokens.length, P = Math.min(n, n > 64 ? 96 : 72), grid = el("div", { class: "grid" });
    if (n > 64) grid.classList.add("large");
    const cols = Array.from({ length: n }, (_, j) => Math.floor((j * P) / n)); // key j -> pixel column
    grid.style.gridTemplateColumns = `2.5em repeat(${D.heads}, auto)`;
    grid.append(el("span", {}));
    for (let h = 0; h < D.heads; h++) grid.append(el("span", { class: "axis" }, "H" + h));
    const cells = [];
    for (let l = 0; l < D.layers; l++) {
      grid.append(el("span", { class: "axis" }, "L" + l));
      for (let h = 0; h < D.heads; h++) {
        const c = el("canvas", { class: "thumb", width: String(P), height: String(P), title: `layer ${l}, head ${h}`,
          "data-layer": String(l), "data-head": String(h) });
        const ctx = c.getContext("2d"), img = ctx.createImageData(P, P), M = D.attention[l][h];
        const top = new Float32Array(P * P);
        for (let i = 0; i < n; i++) {
          const y = Math.floor((i * P) / n) * P, row = M[i];
          let m = 0;
          for (let j = 0; j < n; j++) if (row[j] > m) m = row[j];
          if (!m) continue;
          for (let j = 0; j < n; j++) {
            const p = y + cols[j], r = row[j] / m;
            if (r > top[p]) top[p] = r;
          }
        }
        top.forEach((w, p) => { img.data.set([...sequential(w), 255], 4 * p); });
        ctx.putImageData(img, 0, 0);
        c.addEventListener("click", () => {
          cells.forEach((x) => x.classList.remove("picked"));
          c.classList.add("picked");
          headPanels.forEach((f) => f(l, h));
        });
        cells.push(c);
        grid.append(c);
      }
    }
    sec.append(grid);
    if (!headPanels.length) sec.append(el("p", { class: "about" }, "(This page has no head view to open.)"));
  }

  // ---- neuron view -----------------------------------------------------------------------------------
  function neuronPanel() {
    const sec = section("neuron", "Neuron view: one query, step by step",
      "BertSelfAttention for one head and one query token: its q, each key's k, the products q_i·k_i " +
      "(red positive, blue negative), their sum divided by √d, the softmax over keys, and the model's own " +
      "attention weight (equal up to the page's rounding).");
    const st = { layer: D.layer || 0, head: D.head || 0, query: D.query || 0 };
    const controls = el("div", { class: "controls" });
    controls.append(select("layer", Array.from({ length: D.layers }, (_, i) => String(i)), st.layer, (v) => { st.layer = v; draw(); }));
    controls.append(select("head", Array.from({ length: D.heads }, (_, i) => String(i)), st.head, (v) => { st.head = v; draw(); }));
    controls.append(select("query", D.tokens.map((t, i) => `${i}: ${t}`), st.query, (v) => { st.query = v; draw(); }));
    sec.append(controls);
    const canvas = el("canvas", { class: "neuron-canvas" });
    sec.append(el("div", { class: "neuron-box", style: `max-height:${(BOX_ROWS + 3) * ROW}px` }, canvas));
    const d = D.head_size, CELL = Math.max(3, Math.min(8, Math.floor(256 / d)));
    const X = { tok: 0, k: 90, prod: 100 + d * CELL, dot: 110 + 2 * d * CELL };
    X.score = X.dot + 70; X.soft = X.score + 70; X.model = X.soft + 130; X.end = X.model + 70;

    function draw() {
      const n = D.tokens.length, q = D.q[st.layer][st.head][st.query].map((x) => x / S);
      const K = D.k[st.layer][st.head].map((k) => k.map((x) => x / S));
      const prods = K.map((k) => k.map((x, i) => q[i] * x));
      const scores = prods.map((p) => p.reduce((a, b) => a + b, 0) / Math.sqrt(d)); // q·k / √d
      const m = Math.max(...scores), e = scores.map((s) => Math.exp(s - m)), z = e.reduce((a, b) => a + b, 0);
      const soft = e.map((x) => x / z);
      const model = D.attention[st.layer][st.head][st.query].map((x) => x / S);
      const qMax = Math.max(...q.map(Math.abs), ...K.flat().map(Math.abs)) || 1;
      const pMax = Math.max(...prods.flat().map(Math.abs)) || 1;
      const dpr = window.devicePixelRatio || 1, H = (n + 3) * ROW;
      canvas.width = X.end * dpr; canvas.height = H * dpr;
      canvas.style.width = X.end + "px"; canvas.style.height = H + "px";
      const ctx = canvas.getContext("2d");
      ctx.scale(dpr, dpr);
      ctx.font = "12px sans-serif"; ctx.textBaseline = "middle"; ctx.fillStyle = "#222";
      const head = ["key", "k", "q ∘ k", "q·k", "q·k / √d", "softmax", "model"];
      [X.tok, X.k, X.prod, X.dot, X.score, X.soft, X.model].forEach((x, i) => ctx.fillText(head[i], x, ROW / 2));
      const strip = (v, x, y, scale) => v.forEach((a, i) => { ctx.fillStyle = diverging(a / scale); ctx.fillRect(x + i * CELL, y + 2, CELL, ROW - 4); });
      ctx.fillStyle = "#222"; ctx.fillText("q: " + D.tokens[st.query], X.tok, 1.5 * ROW);
      strip(q, X.k, ROW, qMax);
      for (let j = 0; j < n; j++) {
        const y = (j + 2) * ROW;
        ctx.fillStyle = j === st.query ? "#b05a00" : "#222";
        ctx.fillText(D.tokens[j].slice(0, 12), X.tok, y + ROW / 2);
        strip(K[j], X.k, y, qMax);
        strip(prods[j], X.prod, y, pMax);
        ctx.fillStyle = "#222";
        ctx.fillText((scores[j] * Math.sqrt(d)).toFixed(2), X.dot, y + ROW / 2);
        ctx.fillText(scores[j].toFixed(3), X.score, y + ROW / 2);
        ctx.fillStyle = "rgba(30, 90, 200, 0.8)"; ctx.fillRect(X.soft + 40, y + 4, 80 * soft[j], ROW - 8);
        ctx.fillStyle = "#222";
        ctx.fillText(fmt(soft[j]), X.soft, y + ROW / 2);
        ctx.fillText(fmt(model[j]), X.model, y + ROW / 2);
      }
    }
    draw();
  }

  // ---- sentence-vector views -------------------------------------------------------------------------
  function similarityPanel() {
    const sec = section("similarity", "Similarity matrix",
      "Cosine similarity of every pair of sentence vectors (red high, blue negative). Hover a cell.");
    const T = D.sentences, n = T.length, C = Math.max(16, Math.min(48, Math.floor(420 / n))), P = 30;
    const canvas = el("canvas", { class: "sim-canvas" }), info = el("p", { class: "info" }, "\u00a0");
    const list = el("ol", { start: "0", class: "sentences" }, ...T.map((s) => el("li", {}, s)));
    sec.append(el("div", { class: "side" }, canvas, list), info);
    let hover = null;
    function draw() {
      const dpr = window.devicePixelRatio || 1, W = P + n * C;
      canvas.width = W * dpr; canvas.height = W * dpr; canvas.style.width = W + "px"; canvas.style.height = W + "px";
      const ctx = canvas.getContext("2d");
      ctx.scale(dpr, dpr);
      ctx.font = "11px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
      for (let i = 0; i < n; i++) {
        ctx.fillStyle = "#222";
        ctx.fillText(String(i), P + i * C + C / 2, P / 2);
        ctx.fillText(String(i), P / 2, P + i * C + C / 2);
        for (let j = 0; j < n; j++) {
          const v = D.similarity[i][j];
          ctx.fillStyle = diverging(v);
          ctx.fillRect(P + j * C, P + i * C, C - 1, C - 1);
          if (C >= 30) { ctx.fillStyle = v > 0.6 ? "white" : "#222"; ctx.fillText(v.toFixed(2), P + j * C + C / 2, P + i * C + C / 2); }
        }
      }
      if (hover) {
        ctx.strokeStyle = "#111"; ctx.lineWidth = 3;
        ctx.strokeRect(P + hover[1] * C, P + hover[0] * C, C - 1, C - 1);
        ctx.strokeStyle = "rgba(0,0,0,0.35)"; ctx.lineWidth = 1;
        ctx.strokeRect(P, P + hover[0] * C, n * C, C - 1); ctx.strokeRect(P + hover[1] * C, P, C - 1, n * C);
      }
    }
    canvas.addEventListener("mousemove", (ev) => {
      const r = canvas.getBoundingClientRect(), i = Math.floor((ev.clientY - r.top - P) / C), j = Math.floor((ev.clientX - r.left - P) / C);
      const inside = i >= 0 && j >= 0 && i < n && j < n;
      hover = inside ? [i, j] : null;
      info.textContent = inside ? `${fmt(D.similarity[i][j])}: “${T[i]}” vs “${T[j]}”` : "\u00a0";
      draw();
    });
    canvas.addEventListener("mouseleave", () => { hover = null; info.textContent = "\u00a0"; draw(); });
    draw();
  }

  function pcaPanel() {
    const [e1, e2] = D.explained;
    const sec = section("pca", "Sentence vectors, first two principal components",
      `The vectors projected on the two directions of largest variance (${(100 * e1).toFixed(1)}% and ` +
      `${(100 * e2).toFixed(1)}% of it). Nearby points are similar sentences. Hover a point for its sentence.`);
    const W = 640, H = 440, M = 30, canvas = el("canvas", { class: "pca-canvas" }), info = el("p", { class: "info" }, "\u00a0");
    const legend = el("p", { class: "legend" }, ...[...new Set(D.labels || [])].map((g, k, all) =>
      el("span", { style: `--c:${headColor(k, all.length, 1)}` }, g)));
    sec.append(canvas, legend, info);
    const xs = D.xy.map((p) => p[0]), ys = D.xy.map((p) => p[1]);
    const lo = [Math.min(...xs), Math.min(...ys)], hi = [Math.max(...xs), Math.max(...ys)];
    const px = (p) => [M + ((p[0] - lo[0]) / (hi[0] - lo[0] || 1)) * (W - 2 * M - 120),
                       H - M - ((p[1] - lo[1]) / (hi[1] - lo[1] || 1)) * (H - 2 * M)];
    canvas.points = D.xy.map(px); // each point's (x, y) on the canvas, for scripts that hover one
    const groups = [...new Set(D.labels || [])];
    const colour = (i) => D.labels ? headColor(groups.indexOf(D.labels[i]), groups.length, 1) : "hsl(215, 70%, 45%)";
    let hover = -1;
    function draw() {
      const dpr = window.devicePixelRatio || 1;
      canvas.width = W * dpr; canvas.height = H * dpr; canvas.style.width = W + "px"; canvas.style.height = H + "px";
      const ctx = canvas.getContext("2d");
      ctx.scale(dpr, dpr);
      ctx.strokeStyle = "#bbb"; ctx.strokeRect(M / 2, M / 2, W - M, H - M);
      ctx.font = "11px sans-serif"; ctx.textBaseline = "middle";
      ctx.fillStyle = "#666"; ctx.fillText("PC 1 →", W - 70, H - 8); ctx.fillText("↑ PC 2", 4, 8);
      D.xy.forEach((p, i) => {
        const [x, y] = px(p);
        ctx.fillStyle = colour(i);
        ctx.beginPath(); ctx.arc(x, y, i === hover ? 8 : 5, 0, 2 * Math.PI); ctx.fill();
        ctx.fillStyle = "#333";
        const s = D.sentences[i];
        ctx.fillText(i === hover ? s : s.length > 22 ? s.slice(0, 21) + "…" : s, x + 9, y);
      });
    }
    canvas.addEventListener("mousemove", (ev) => {
      const r = canvas.getBoundingClientRect(), mx = ev.clientX - r.left, my = ev.clientY - r.top;
      let best = -1, bd = 12 * 12;
      D.xy.forEach((p, i) => { const [x, y] = px(p), dd = (x - mx) ** 2 + (y - my) ** 2; if (dd < bd) { bd = dd; best = i; } });
      if (best !== hover) {
        hover = best;
        info.textContent = best < 0 ? "\u00a0" : `${best}: ${D.sentences[best]}` + (D.labels ? ` (${D.labels[best]})` : "");
        draw();
      }
    });
    draw();
  }

  // ---- the page --------------------------------------------------------------------------------------
  const PANELS = { head: () => headPanel(false), pair: () => headPanel(true), model: modelPanel, neuron: neuronPanel,
                   similarity: similarityPanel, pca: pcaPanel };
  // Head panels first, so that a model view's click has one to open whatever the order on the page.
  const order = D.panels.slice().sort((a, b) => (b === "head" || b === "pair") - (a === "head" || a === "pair"));
  const made = {};
  const times = { start: Math.round(started), parse: Math.round(parsed - started) };
  for (const p of order) {
    const before = root.children.length, t = performance.now();
    PANELS[p]();
    made[p] = root.children[before];
    times[p] = Math.round(performance.now() - t);
  }
  document.body.dataset.times = JSON.stringify(times); // ms per panel, for whoever wonders what is slow
  root.replaceChildren(...D.panels.map((p) => made[p]));
  document.body.dataset.rendered = performance.now().toFixed(1); // ms from navigation start: read by the tests
})();
