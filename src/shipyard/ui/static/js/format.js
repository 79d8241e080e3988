// Numbers, times and sizes as people read them.

export function time(ms) {
  if (ms === null || ms === undefined) return "";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function duration(start, end) {
  if (!start || !end) return "";
  let s = Math.max(0, Math.round((end - start) / 1000));
  if (s < 60) return `${s}s`;
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (s >= size) { parts.push(`${Math.floor(s / size)}${unit}`); s %= size; }
  }
  if (s) parts.push(`${s}s`);
  return parts.slice(0, 2).join(" ");
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A metric value as the API sends it (a number, or "NaN" / "Infinity" / "-Infinity"). */
export function metric(value) {
  if (typeof value !== "number") return value === undefined || value === null ? "" : String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  return abs !== 0 && (abs < 1e-4 || abs >= 1e6) ? value.toExponential(4) : String(Number(value.toPrecision(6)));
}

/** The number a metric value stands for in a chart (null for NaN and infinities). */
export function plotted(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
