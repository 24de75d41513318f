// How the Runs place writes a run's times, durations and sizes.

export const UNTITLED_RUN = "Untitled run";
export const STATES = ["running", "finished", "stopped", "failed"];
export const ACTIVE = new Set(["starting", "running", "stopping"]);

/** A run's title: the record's (the script's `title:` line, its first line, or a rename). */
export function runTitle(run) {
  return (run.title || "").trim() || UNTITLED_RUN;
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "yesterday", "4 days ago", then a date. */
export function relativeTime(iso, now = Date.now()) {
  const at = Date.parse(iso || "");
  if (Number.isNaN(at)) return "";
  const s = Math.max(0, (now - at) / 1000);
  if (s < 10) return "just now";
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  const days = Math.floor(s / 86400);
  if (days === 1) return "yesterday";
  if (days < 14) return `${days} days ago`;
  return new Date(at).toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
}

/** The local date and time, for a tooltip. */
export function absoluteTime(iso) {
  const at = Date.parse(iso || "");
  if (Number.isNaN(at)) return "";
  return new Date(at).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
}

/** "0.8 s", "12 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(seconds) {
  const s = Math.max(0, Number(seconds) || 0);
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, "0")} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, "0")} min`;
}

/** What a run's duration cell says: how long it ran (or has run so far) and what was asked. */
export function durationText(run) {
  const ran = formatDuration(run.elapsed);
  if (!ACTIVE.has(run.state)) return ran;
  return run.duration ? `${ran} of ${formatDuration(run.duration)}` : `${ran}, until stopped`;
}

/** "512 B", "47.1 KiB", "3.2 MiB", "1.10 GiB". */
export function formatBytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i += 1;
  }
  return `${x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x)} ${units[i]}`;
}

/** "30 days", "12 hours": how long an unpinned record is kept. */
export function keptFor(seconds) {
  const s = Number(seconds) || 30 * 86400;
  if (s >= 86400) {
    const d = Math.round(s / 86400);
    return d === 1 ? "1 day" : `${d} days`;
  }
  const h = Math.max(1, Math.round(s / 3600));
  return h === 1 ? "1 hour" : `${h} hours`;
}
