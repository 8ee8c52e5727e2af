// Renders the results of bench/run.mjs: a markdown report and a hand-written
// SVG bar chart (no dependencies).

const RUNTIME_ORDER = ["node", "deno", "bun"];
const ROLE_ORDER = ["portico", "portico-hono", "anchor", "anchor-hono", "ceiling"];
const ROLE_LABEL = {
  portico: "portico",
  "portico-hono": "portico + Hono",
  anchor: "runtime's server",
  "anchor-hono": "runtime's server + Hono",
  ceiling: "raw-socket ceiling",
};
const ROLE_COLOR = {
  portico: "#1d4ed8",
  "portico-hono": "#60a5fa",
  anchor: "#4b5563",
  "anchor-hono": "#9ca3af",
  ceiling: "#f59e0b",
};

// ---------------------------------------------------------------------------
// Formatting

function rps(x) {
  if (x == null) return "—";
  return Math.round(x).toLocaleString("en-US");
}
function shortRps(x) {
  if (x == null) return "";
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e5) return `${(x / 1e3).toFixed(0)}k`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}
function ms(us) {
  if (us == null) return "—";
  if (us === 0) return "<1 ms"; // autocannon's resolution is 1 ms
  if (us >= 100_000) return `${(us / 1000).toFixed(0)} ms`;
  if (us >= 10_000) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1000).toFixed(2)} ms`;
}
function us(x) {
  return x == null ? "—" : `${x.toFixed(2)}`;
}
function mib(kb) {
  return kb == null ? "—" : `${(kb / 1024).toFixed(1)} MiB`;
}
function kib(bytes) {
  return bytes == null ? "—" : `${(bytes / 1024).toFixed(2)} KiB`;
}
function times(x) {
  return x == null ? "—" : `${x.toFixed(2)}×`;
}
function pct(x) {
  return x == null ? "—" : `${Math.round(x * 100)}%`;
}
function esc(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function runtimesOf(block) {
  return RUNTIME_ORDER.filter((r) => block?.[r]);
}
function entriesOf(runtimeBlock) {
  return ROLE_ORDER.map((role) => runtimeBlock.targets[role]).filter(Boolean);
}
function status(entry) {
  if (entry.skipped) return `skipped: ${entry.skipped}`;
  if (entry.failed) return `failed: ${entry.failed}`;
  if (entry.crashed) return `crashed: ${entry.crashed}`;
  return null;
}

function headerLines(results) {
  const m = results.machine;
  const v = results.versions;
  const s = results.settings;
  const versionText = Object.entries(v).filter(([, x]) => x).map(([k, x]) => `${k} ${x}`).join(" · ");
  const loadText = results.loader === "wrk"
    ? `wrk, 1 thread, ${s.connections} connections, loopback`
    : `**autocannon (wrk is absent)**, ${s.connections} connections, loopback`;
  const pinText = s.pinned
    ? `load generator pinned to CPU ${s.loadCpu}, each server to CPU ${s.serverCpu} (taskset)`
    : "not pinned";
  return { versionText, loadText, pinText, machineText: `${m.cpu} · ${m.cores} cores · ${m.memory} · ${m.kernel} (${m.arch})` };
}

// ---------------------------------------------------------------------------
// Markdown

export function renderMarkdown(results, { forConsole = false } = {}) {
  const s = results.settings;
  const { versionText, loadText, pinText, machineText } = headerLines(results);
  const out = [];
  out.push("# portico benchmarks", "");
  const partial = [];
  if (s.quick) partial.push("quick run");
  if (s.runtimes.length < 3) partial.push(`runtimes: ${s.runtimes.join(", ")}`);
  out.push(`${results.date.slice(0, 16).replace("T", " ")} UTC${results.elapsedSeconds != null ? ` · ${Math.round(results.elapsedSeconds / 60)} min` : ""}${partial.length ? ` · ${partial.join(" · ")}` : ""} · \`npm run bench\``, "");
  out.push(`- **Machine:** ${machineText}`);
  out.push(`- **Versions:** ${versionText}${results.code ? ` · code under test: src ${results.code.sources}, dist ${results.code.dist} (sha-256 prefixes${results.code.snapshot ? ", a copy taken at the start of the run" : ""})` : ""}`);
  out.push(`- **Load:** ${loadText}; ${pinText}.`);
  out.push(`- **Method:** the targets of one runtime run side by side in interleaved rounds (A B C … A B C …): ${s.rounds} round(s) × ${s.duration} s after a ${s.warmup} s warm-up each. Figures are medians over the rounds; every ratio is the median of per-round ratios within this run. Latency is measured per request (per 16-request batch when pipelining), from wrk's histogram with wrk's coordinated-omission correction undone. RSS is the server's VmRSS (/proc), the highest sample during a run. ${s.nice ? `Servers and load generator ran at niceness ${s.nice}, so that other processes on the machine took little of their cores` : "Before each run the harness waits (up to 2 s) for both cores to be quiet"}${s.retries ? `, and a run during which other processes took more than 15% of a core, or in which neither the server nor the load generator kept 85% of its core busy (a stall of the machine), is measured again (at most ${s.retries}×, within a budget of a quarter of the runs; ${s.retriesUsed ?? 0} used)` : ""}.`);
  out.push("");
  if (!forConsole) out.push("![portico benchmark chart](latest.svg)", "");

  if (results.checks?.length) {
    out.push("## Targets", "");
    out.push("| check | measured | target | |", "|---|---:|---:|:-:|");
    for (const c of results.checks) {
      const value = c.label.includes("RSS") ? (c.value == null ? "—" : `${c.value.toFixed(2)}×`) : c.label.includes("ceiling") ? pct(c.value) : times(c.value);
      const target = c.label.includes("ceiling") ? `${c.kind} ${pct(c.target)}` : `${c.kind} ${c.target}×`;
      const mark = c.pass == null ? "n/a" : c.pass ? "✅" : "❌";
      out.push(`| ${c.label}${c.note ? ` (${c.note})` : ""} | ${value} | ${target} | ${mark} |`);
    }
    out.push("");
  }

  for (const [name, block] of Object.entries(results.scenarios)) {
    const info = results.scenarioInfo?.[name] ?? { title: name, what: "" };
    if (name === "idle") {
      out.push(`## ${info.title}: ${info.what}`, "");
      const later = results.settings?.idleSettle ?? 0;
      const ref = block.node?.targets?.anchor?.median?.perConnBytes ?? null;
      const refLater = block.node?.targets?.anchor?.median?.settledPerConnBytes ?? null;
      const showLater = later > 0 && runtimesOf(block).some((rt) => entriesOf(block[rt]).some((e) => e.median?.settledPerConnBytes != null));
      out.push("A separate node process opens the connections (128 at a time); each sends one `GET /`, reads the answer and stays open. RSS per connection = (RSS with them open − RSS before) ÷ connections still open, read 1.5 s after the last one opened" +
        (showLater ? ` and again ${later} s later, once the garbage collectors have shrunk what the burst of connections grew (V8 gave memory back 20–30 s after it here, with nothing else happening).` : "."), "");
      out.push(
        showLater
          ? `| runtime | server | RSS before | RSS with connections | held open | per connection | vs node:http | ${later} s later | vs node:http |\n|---|---|---:|---:|---:|---:|---:|---:|---:|`
          : "| runtime | server | RSS before | RSS with connections | held open | per connection | vs node:http |\n|---|---|---:|---:|---:|---:|---:|",
      );
      const vs = (mine, r) => (r && mine != null ? times(mine / r) : "—");
      for (const rt of runtimesOf(block)) {
        for (const e of entriesOf(block[rt])) {
          const st = status(e);
          if (st && !e.median) {
            out.push(`| ${rt} | ${e.name} | ${st} | | | | |${showLater ? " | |" : ""}`);
            continue;
          }
          const m = e.median;
          const tail = showLater ? ` ${m.settledPerConnBytes == null ? "—" : kib(m.settledPerConnBytes)} | ${vs(m.settledPerConnBytes, refLater)} |` : "";
          out.push(`| ${rt} | ${e.name} | ${mib(m.beforeKb)} | ${mib(m.afterKb)} | ${m.held.toLocaleString("en-US")} | ${kib(m.perConnBytes)} | ${vs(m.perConnBytes, ref)} |${tail}`);
        }
      }
      out.push("");
      continue;
    }
    if (info.ws) {
      out.push(`## ${info.title}: ${info.what}`, "");
      out.push("| runtime | server | messages/s | p50 | p99 | server CPU µs per message | RSS | vs anchor | CPU server / load | errors |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
      for (const rt of runtimesOf(block)) {
        for (const e of entriesOf(block[rt])) {
          const st = status(e);
          if (!e.median) {
            out.push(`| ${rt} | ${e.name} | ${st ?? "no data"} | | | | | | | |`);
            continue;
          }
          const m = e.median;
          const bound = m.loadCpu != null && m.loadCpu >= 0.9 ? " ‡" : "";
          out.push(`| ${rt} | ${e.name}${st ? ` (${st.split(":")[0]})` : ""} | ${rps(m.rps)}${bound} | ${ms(m.p50)} | ${ms(m.p99)} | ${us(m.cpuUs)} | ${mib(m.rssKb)} | ${e.vsAnchor == null ? "" : times(e.vsAnchor)} | ${m.serverCpu == null ? "" : `${pct(m.serverCpu)} / ${pct(m.loadCpu)}`}${m.noisyRounds ? ` ⚠${m.noisyRounds}` : ""} | ${m.errors || ""} |`);
        }
      }
      out.push("");
      out.push("WebSocket echo: the load is bench/lib/ws-client.mjs (raw node:net clients, pre-masked frames, one message in flight per client, no permessage-deflate); the anchors are `ws` on Node, Deno.upgradeWebSocket and Bun.serve's websocket. Server CPU per message: the server process's utime + stime over the measured window ÷ messages echoed.", "");
      continue;
    }
    out.push(`## ${info.title}: ${info.what}`, "");
    out.push("| runtime | server | req/s | CPU µs/req | p50 | p99 | RSS | vs anchor | of ceiling | CPU/req vs anchor | CPU/req vs raw | CPU server / load | errors |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const rt of runtimesOf(block)) {
      for (const e of entriesOf(block[rt])) {
        const st = status(e);
        if (!e.median) {
          out.push(`| ${rt} | ${e.name} | ${st ?? "no data"} | | | | | | | | | | |`);
          continue;
        }
        const m = e.median;
        const bound = m.loadCpu != null && m.loadCpu >= 0.9 ? " ‡" : "";
        out.push(`| ${rt} | ${e.name}${st ? ` (${st.split(":")[0]})` : ""} | ${rps(m.rps)}${bound} | ${us(m.cpuUs)} | ${ms(m.p50)} | ${ms(m.p99)} | ${mib(m.rssKb)} | ${e.vsAnchor == null ? "" : times(e.vsAnchor)} | ${e.ofCeiling == null ? "" : pct(e.ofCeiling)} | ${e.cpuVsAnchor == null ? "" : times(e.cpuVsAnchor)} | ${e.cpuVsCeiling == null ? "" : times(e.cpuVsCeiling)} | ${m.serverCpu == null ? "" : `${pct(m.serverCpu)} / ${pct(m.loadCpu)}`}${m.noisyRounds ? ` ⚠${m.noisyRounds}` : ""} | ${m.errors || ""} |`);
      }
    }
    out.push("");
  }
  out.push("‡: the load generator used 90% or more of its core: the figure is bounded by the load generator (one wrk thread), not by the server, and a ceiling marked so is really higher (so a ratio to it overstates how close a server comes).", "");
  out.push("“CPU server / load”: the share of its core the server process and the load generator used (median); ⚠n: n rounds in which other processes took more than 15% of a core, or neither the server nor the load generator kept 85% of its core busy (a stall), even after measuring again.", "");
  out.push("“CPU µs/req”: the server process's CPU time (utime + stime from /proc/<pid>/stat) from the start of the load to its end, divided by the requests it answered (median over the rounds); “CPU/req vs anchor” and “vs raw” are medians of the per-round ratios of that figure (lower is better). Unlike req/s it still tells servers apart when the load generator is the bottleneck.", "");
  out.push("“vs anchor”: portico ÷ the runtime's own server (node:http, Deno.serve, Bun.serve); portico + Hono ÷ the same Hono app on @hono/node-server, Deno.serve, Bun.serve. “of ceiling”: ÷ the raw-socket server of the same runtime, which answers every request head with a fixed response of the same size, without parsing.", "");

  if (results.problems?.length) {
    out.push("## Problems seen during the run", "");
    for (const p of results.problems) out.push(`- ${p}`);
    out.push("");
  }
  if (results.notes?.length) {
    out.push("## Notes", "");
    for (const n of results.notes) out.push(`- ${n}`);
    out.push("");
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------
// SVG

function niceMax(x) {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const k of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (k * p >= x) return k * p;
  return 10 * p;
}

function panel(y0, width, title, subtitle, groups, valueOf, labelOf, unitLabel) {
  // groups: [{ label, bars: [{ role, name, value, note }] }]
  const H = 250;
  const left = 64;
  const right = width - 16;
  const top = y0 + 44;
  const bottom = y0 + H - 36;
  const parts = [];
  parts.push(`<text x="16" y="${y0 + 18}" class="title">${esc(title)}</text>`);
  const all = groups.flatMap((g) => g.bars.map((b) => valueOf(b))).filter((v) => v != null);
  const others = groups.flatMap((g) => g.bars.filter((b) => b.role !== "ceiling").map((b) => valueOf(b))).filter((v) => v != null);
  // When the ceilings dwarf everything else (pipelining), the axis stops
  // above the others and the taller bars are cut, their values printed.
  const maxAll = Math.max(0, ...all);
  const maxOthers = Math.max(0, ...others);
  const cut = maxOthers > 0 && maxAll > 4 * maxOthers;
  const max = niceMax((cut ? maxOthers * 1.6 : maxAll) * 1.08);
  const ticks = 5;
  for (let i = 0; i <= ticks; i++) {
    const v = (max * i) / ticks;
    const y = bottom - ((bottom - top) * i) / ticks;
    parts.push(`<line x1="${left}" x2="${right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="${i === 0 ? "axis" : "grid"}"/>`);
    parts.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" class="tick" text-anchor="end">${esc(labelOf(v, true))}</text>`);
  }
  parts.push(`<text x="14" y="${((top + bottom) / 2).toFixed(1)}" class="tick" transform="rotate(-90 14 ${((top + bottom) / 2).toFixed(1)})" text-anchor="middle">${esc(unitLabel)}</text>`);
  parts.push(`<text x="16" y="${y0 + 34}" class="sub">${esc(subtitle)}${cut ? " · bars past the top of the scale are cut, their values printed" : ""}</text>`);
  const gw = (right - left) / Math.max(1, groups.length);
  groups.forEach((g, gi) => {
    const gx = left + gi * gw;
    const n = 5;
    const bw = Math.min(44, (gw - 24) / n);
    const start = gx + (gw - bw * n) / 2;
    g.bars.forEach((b) => {
      const slot = ROLE_ORDER.indexOf(b.role);
      const x = start + slot * bw;
      const v = valueOf(b);
      if (v == null) {
        parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${bottom - 4}" class="na" text-anchor="middle">${esc(b.note ?? "n/a")}</text>`);
        return;
      }
      const clipped = v > max;
      const h = ((bottom - top) * Math.min(v, max)) / max;
      parts.push(`<rect x="${(x + 2).toFixed(1)}" y="${(bottom - h).toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${h.toFixed(1)}" fill="${ROLE_COLOR[b.role]}"><title>${esc(`${g.label} · ${b.name}: ${labelOf(v, false)}`)}</title></rect>`);
      if (clipped) {
        // a white zigzag across the bar near its top: the bar is cut
        const zy = bottom - h + 14;
        parts.push(`<path d="M${(x + 1).toFixed(1)} ${zy} l${((bw - 2) / 4).toFixed(1)} -5 l${((bw - 2) / 4).toFixed(1)} 5 l${((bw - 2) / 4).toFixed(1)} -5 l${((bw - 2) / 4).toFixed(1)} 5" class="cut"/>`);
      }
      if (clipped) parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${(bottom - h + 30).toFixed(1)}" class="valin" text-anchor="middle">${esc(labelOf(v, true))}</text>`);
      else parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${(bottom - h - 4).toFixed(1)}" class="val" text-anchor="middle">${esc(labelOf(v, true))}</text>`);
    });
    parts.push(`<text x="${(gx + gw / 2).toFixed(1)}" y="${bottom + 18}" class="group" text-anchor="middle">${esc(g.label)}</text>`);
  });
  return { svg: parts.join("\n"), height: H };
}

export function renderSvg(results) {
  const width = 960;
  const { versionText, machineText } = headerLines(results);
  const body = [];
  let y = 0;
  // Heading and legend.
  body.push(`<text x="16" y="24" class="h1">portico benchmarks</text>`);
  body.push(`<text x="16" y="42" class="sub">${esc(machineText)}</text>`);
  body.push(`<text x="16" y="57" class="sub">${esc(versionText)}</text>`);
  const st = results.settings;
  body.push(`<text x="16" y="72" class="sub">${esc(`${results.date.slice(0, 10)} · ${results.loader === "wrk" ? "wrk -t1" : "autocannon (no wrk)"}, ${st.connections} connections, loopback${st.pinned ? ", load and server pinned to one core each" : ""} · ${st.rounds} interleaved rounds × ${st.duration} s, medians${st.quick ? " · quick run" : ""}`)}</text>`);
  let lx = 16;
  for (const role of ROLE_ORDER) {
    body.push(`<rect x="${lx.toFixed(0)}" y="82" width="12" height="12" fill="${ROLE_COLOR[role]}"/>`);
    body.push(`<text x="${(lx + 17).toFixed(0)}" y="92" class="legend">${esc(ROLE_LABEL[role])}</text>`);
    lx += 34 + ROLE_LABEL[role].length * 6.4;
  }
  y = 106;
  for (const [name, block] of Object.entries(results.scenarios)) {
    const info = results.scenarioInfo?.[name] ?? { title: name, what: "" };
    const groups = runtimesOf(block).map((rt) => ({
      label: rt,
      bars: entriesOf(block[rt]).map((e) => ({
        role: e.role,
        name: e.name,
        median: e.median,
        note: e.skipped ? "skipped" : e.failed ? "failed" : e.crashed ? "crashed" : "n/a",
      })),
    }));
    let p;
    if (name === "idle") {
      p = panel(y, width, `idle: RSS per idle keep-alive connection (lower is better)`, info.what, groups,
        (b) => (b.median?.perConnBytes == null ? null : b.median.perConnBytes / 1024), (v, short) => (short ? `${v.toFixed(1)}` : `${v.toFixed(2)} KiB`), "KiB per connection");
    } else if (info.ws) {
      p = panel(y, width, `${info.title}: WebSocket messages echoed per second (higher is better)`, info.what, groups,
        (b) => b.median?.rps ?? null, (v, short) => (short ? shortRps(v) : `${Math.round(v).toLocaleString("en-US")} msg/s`), "messages/s");
      body.push(p.svg);
      y += p.height;
      p = panel(y, width, `${info.title}: server CPU per message (lower is better)`, "utime + stime of the server process ÷ messages echoed", groups,
        (b) => b.median?.cpuUs ?? null, (v, short) => (short ? v.toFixed(1) : `${v.toFixed(2)} µs`), "CPU µs per message");
    } else {
      p = panel(y, width, `${info.title}: requests per second (higher is better)`, info.what, groups,
        (b) => b.median?.rps ?? null, (v, short) => (short ? shortRps(v) : `${Math.round(v).toLocaleString("en-US")} req/s`), "req/s");
      body.push(p.svg);
      y += p.height;
      p = panel(y, width, `${info.title}: server CPU per request (lower is better)`, "utime + stime of the server process ÷ requests answered", groups,
        (b) => b.median?.cpuUs ?? null, (v, short) => (short ? v.toFixed(1) : `${v.toFixed(2)} µs`), "CPU µs per request");
    }
    body.push(p.svg);
    y += p.height;
  }
  const height = y + 8;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">
<style>
  .h1 { font-size: 18px; font-weight: 600; fill: #111827; }
  .title { font-size: 14px; font-weight: 600; fill: #111827; }
  .sub { font-size: 11px; fill: #4b5563; }
  .legend { font-size: 11px; fill: #111827; }
  .tick { font-size: 10px; fill: #6b7280; }
  .val { font-size: 10px; fill: #111827; }
  .valin { font-size: 10px; font-weight: 600; fill: #111827; }
  .na { font-size: 9px; fill: #9ca3af; }
  .group { font-size: 12px; font-weight: 600; fill: #111827; }
  .grid { stroke: #e5e7eb; stroke-width: 1; }
  .axis { stroke: #9ca3af; stroke-width: 1; }
  .cut { stroke: #ffffff; stroke-width: 3; fill: none; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
${body.join("\n")}
</svg>
`;
}
