// Step 2, "Run": the server's limits and tracer options, the run options form, its checks.

import { byId as $, el } from "../dom.js";
import { HostPicker } from "../fleet/picker.js";

function formatBytes(n) {
  if (n >= 1 << 30 && n % (1 << 30) === 0) return n / (1 << 30) + " GiB";
  if (n >= 1 << 20 && n % (1 << 20) === 0) return n / (1 << 20) + " MiB";
  if (n >= 1 << 10 && n % (1 << 10) === 0) return n / (1 << 10) + " KiB";
  return n.toLocaleString("en-US");
}

export function formatSeconds(s) {
  if (s >= 3600 && s % 3600 === 0) return s / 3600 + " h";
  if (s >= 60 && s % 60 === 0) return s / 60 + " min";
  return s + " s";
}

/** The run form over GET /api/limits (null when the server's limits could not be read). */
export class RunForm {
  constructor() {
    this.hosts = new HostPicker(); // the "Hosts" control, when the server has a fleet
    this.setLimits(null);
    for (const radio of document.querySelectorAll('input[name="duration"]')) {
      radio.addEventListener("change", () => this.refreshDuration());
    }
    $("custom-duration").addEventListener("input", () => this.refreshDuration());
  }

  setLimits(limits) {
    this.limits = limits;
    // Without the server's limits the page still checks against the defaults of ide/config.py.
    this.minInterval = limits?.min_interval_s ?? 0.1;
    this.maxInterval = limits?.max_interval_s ?? 3600;
    this.hosts.enable(limits);
  }

  get tracerOptions() {
    return this.limits?.tracer_options || [];
  }

  render() {
    const l = this.limits || {};
    const box = $("tracer-options");
    box.replaceChildren();
    for (const option of this.tracerOptions) {
      const row = el("div", "option-row");
      row.dataset.languages = option.languages.join(" ");
      const id = "opt-" + option.name;
      const label = el("label", "option-name", option.name);
      label.htmlFor = id;
      const input = el("input");
      input.type = "number";
      input.id = id;
      input.min = "0";
      input.max = String(option.maximum);
      input.step = "1";
      input.placeholder = String(option.default);
      input.dataset.option = option.name;
      const fmt = option.unit === "bytes" ? formatBytes : (n) => n.toLocaleString("en-US");
      const cap = el("span", "option-cap", `default ${fmt(option.default)} · max ${fmt(option.maximum)}`);
      row.append(label, input, cap, el("span", "option-desc", option.description));
      box.append(row);
    }
    if (!box.children.length) box.append(el("p", "muted", "This server lists no tunable tracer options."));
    const interval = $("interval");
    interval.min = String(this.minInterval);
    interval.max = String(this.maxInterval);
    $("interval-help").textContent = `How often the charts are refreshed (${this.minInterval} s to ${formatSeconds(this.maxInterval)}).`;
    if (l.max_duration_s) $("custom-duration").max = String(l.max_duration_s);
    this.refreshDuration();
    if (l.max_unwatched_s) {
      $("keep-running-help").textContent = `Otherwise the tracer stops as soon as nobody is watching. A kept run with no viewer ends after ${formatSeconds(l.max_unwatched_s)}.`;
    }
  }

  /** Show only the tracer options that `language`'s tracer reads. */
  filter(language) {
    for (const row of document.querySelectorAll(".option-row")) {
      row.hidden = !row.dataset.languages.split(" ").includes(language);
    }
  }

  /** The custom field when chosen, and help that speaks of the duration chosen. */
  refreshDuration() {
    const custom = document.querySelector('input[name="duration"][value="custom"]').checked;
    $("custom-duration-row").hidden = !custom;
    const checked = document.querySelector('input[name="duration"]:checked')?.value;
    const seconds = checked === "custom" ? Number($("custom-duration").value) : Number(checked);
    const max = this.limits?.max_duration_s;
    $("duration-help").textContent =
      seconds > 0
        ? `The run stops by itself after ${formatSeconds(seconds)}; Stop ends it sooner.`
        : `A continuous run goes on until you press Stop${max ? ` (at most ${formatSeconds(max)})` : ""}.`;
  }

  /** Mark the field a problem is about (and only it), and move focus there. */
  mark(problem) {
    for (const node of document.querySelectorAll('#run-form [aria-invalid="true"]')) node.removeAttribute("aria-invalid");
    const field = problem?.field ? document.getElementById(problem.field) || document.querySelector(`#tracer-options input[data-option="${problem.field}"]`) : null;
    if (!field) return;
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }

  get() {
    const checked = document.querySelector('input[name="duration"]:checked').value;
    const duration = checked === "custom" ? Number($("custom-duration").value) : Number(checked);
    const options = {};
    for (const input of document.querySelectorAll("#tracer-options input[data-option]")) {
      if (input.value.trim() !== "" && !input.closest(".option-row").hidden) options[input.dataset.option] = Number(input.value);
    }
    return {
      duration,
      interval: Number($("interval").value),
      options,
      keep_running: $("keep-running").checked,
      draw_charts: $("draw-charts").checked,
    };
  }

  /** What of POST /api/runs's body comes from the form with options `o` (from get()): the
   * hosts too, for a fleet run. */
  request(o) {
    return { duration: o.duration, interval: o.interval, options: o.options, keep_running: o.keep_running, ...this.hosts.request() };
  }

  /** Fill the form from saved run options (a snippet's, or a past run's with its hosts);
   * fields it lacks stay as they are. */
  set(o) {
    if (!o) return;
    if (typeof o.duration === "number") {
      const preset = document.querySelector(`input[name="duration"][value="${o.duration}"]`);
      if (preset) preset.checked = true;
      else {
        document.querySelector('input[name="duration"][value="custom"]').checked = true;
        $("custom-duration").value = String(o.duration);
      }
    }
    if (typeof o.interval === "number") $("interval").value = String(o.interval);
    if (typeof o.keep_running === "boolean") $("keep-running").checked = o.keep_running;
    if (typeof o.draw_charts === "boolean") $("draw-charts").checked = o.draw_charts;
    if (o.options) {
      for (const input of document.querySelectorAll("#tracer-options input[data-option]")) {
        const v = o.options[input.dataset.option];
        input.value = v === undefined || v === null ? "" : String(v);
      }
    }
    if (Array.isArray(o.hosts)) this.hosts.choose(o.hosts);
    this.refreshDuration();
  }

  /** What is wrong with run options `o` as {message, field} (the field's id or option
   * name), or null. */
  problem(o) {
    const max = this.limits?.max_duration_s;
    const at = (field, message) => ({ field, message });
    if (!Number.isFinite(o.duration) || o.duration < 0) return at("custom-duration", "The duration must be 0 (continuous) or a positive number of seconds.");
    if (max && o.duration > max) return at("custom-duration", `The duration can be at most ${formatSeconds(max)}.`);
    if (!Number.isFinite(o.interval) || o.interval < this.minInterval || o.interval > this.maxInterval) {
      return at("interval", `The snapshot interval must be between ${this.minInterval} s and ${formatSeconds(this.maxInterval)}.`);
    }
    for (const option of this.tracerOptions) {
      const v = o.options[option.name];
      if (v === undefined) continue;
      if (!Number.isInteger(v) || v < 0) return at(option.name, `${option.name} must be a whole number.`);
      if (v > option.maximum) return at(option.name, `${option.name} can be at most ${option.maximum.toLocaleString("en-US")} on this server.`);
    }
    return this.hosts.problem();
  }
}
