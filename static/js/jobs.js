// The job panel: settings too long for one request run as a queued job on the server (POST /api/v1/jobs). It offers
// "Run as a job", then shows the job's place in the queue, its progress and a Cancel button, and says plainly when it
// fails, is cancelled or is not taken, with a way to try again. When the job is done, onDone() draws its result by the
// page's normal path (the experiment's request is then answered from the server's store). Each change of the job's
// state is announced once through the page's one live region, never each tick of its progress.

import { ApiError, FINISHED, cancelJob, followJob, getJob, startJob } from "./api.js";
import { duration } from "./estimate.js";
import { announce } from "./figures/plot.js";

const $ = (selector) => document.querySelector(selector);
const plural = (count, noun) => `${count} ${noun}${count === 1 ? "" : "s"}`;

// The panel's words for a job's status.
export function queueText(status) {
  const ahead = status.position === 0 ? "Next in the queue" : `Queued: ${plural(status.position ?? 0, "job")} ahead`;
  const wait = status.wait_seconds === null ? "" : `, starting in about ${duration(status.wait_seconds)}`;
  return `${ahead}${wait}. Then it runs for about ${duration(status.estimate_seconds)}.`;
}

// "width 1024 (3 of 5), step 120 of 500": the width training now, or how many are done between two.
export function progressText({ widths_done: done, widths, width, step, steps }) {
  if (width === null) return `${done} of ${plural(widths, "width")} done`;
  return `width ${width} (${Math.min(done + 1, widths)} of ${widths}), step ${step ?? 0} of ${steps}`;
}

export function runningText(status) {
  const elapsed = status.elapsed_seconds === null ? "" : `, ${duration(status.elapsed_seconds)} so far`;
  return `Running: about ${duration(status.estimate_seconds)} in all${elapsed}.`;
}

const FINISHED_TEXT = {
  done: (status) => `Done${status.elapsed_seconds === null ? "" : ` in ${duration(status.elapsed_seconds)}`}: `
    + "the figures show its result.",
  failed: (status) => `The job failed: ${status.detail ?? "the server gave no reason"}.`,
  cancelled: () => "The job was cancelled: the figures are not drawn for these settings.",
};

// The job was not taken: why, in plain words, and when to try again.
export function refusedText(error) {
  const later = error.retryAfter ? ` Try again in about ${duration(Number(error.retryAfter))}.` : "";
  if (error.status === 429) {
    return "Not queued: you already have as many unfinished jobs on this server as it takes from one reader. Wait for "
      + `one to finish, or cancel one at its settings.${later}`;
  }
  if (error.status === 503) return `Not queued: this server's job queue is full.${later || " Try again later."}`;
  if (error.status === 422) return `Not queued: these settings were refused (${error.message}).`;
  if (error.status === 0) return `The server could not be reached (${error.message}).`;
  return `The job could not be started (${error.message}).`;
}

const ANNOUNCED = {
  queued: (status) => `Your job is queued: ${status.position === 0 ? "it is next" : `${plural(status.position ?? 0, "job")} ahead`}.`,
  running: () => "Your job is running.",
  done: () => "Your job is done: drawing its result.",
  failed: (status) => FINISHED_TEXT.failed(status),
  cancelled: () => "Your job was cancelled.",
};

// A state's place in a job's life: a status arriving late (a running event after the DELETE's answer) never goes back.
const RANK = { queued: 0, running: 1, done: 2, failed: 2, cancelled: 2 };

// The panel (#job in templates/_controls.html), driven by main.js: offer(params, anchor) when the state's settings run
// only as a job, computed(params) once their result is on show, hide() otherwise. onDone(): the job of the state's
// settings is done. Jobs this page started are remembered by their settings: coming back to them follows the job again.
export function createJobs({ onDone }) {
  const panel = $("#job");
  if (!panel) return { offer() {}, computed() {}, hide() {} }; // an embed without its settings
  const parts = {
    text: $("#job-text"), progress: $("#job-progress"), label: $("#job-progress-label"),
    run: $("#job-run"), cancel: $("#job-cancel"),
  };
  const known = new Map(); // the settings' query → the id of the job started (or joined) for them
  let current = null;      // { key, params, id, status, controller, announced } of the settings on show
  let action = null;       // what the panel's Run button does now: start or follow the current job

  // The panel's text, its Run button (run: [label, action]) or none, its Cancel button, its progress bar.
  function show({ text, run = null, cancel = false, progress = null }) {
    const hadFocus = panel.contains(document.activeElement);
    panel.hidden = false;
    parts.text.textContent = text;
    parts.run.hidden = run === null;
    if (run !== null) [parts.run.textContent, action] = run;
    parts.cancel.hidden = !cancel;
    parts.label.closest(".job-progress").hidden = progress === null;
    if (progress !== null) {
      parts.label.textContent = progressText(progress);
      parts.progress.value = progress.fraction;
    }
    // A button pressed and now gone: the focus goes to the panel (its text is read), not to the page's top.
    const focused = document.activeElement;
    if (hadFocus && (!panel.contains(focused) || focused.hidden)) panel.focus({ preventScroll: true });
  }

  function showStatus(status) {
    if (status.state === "queued") show({ text: queueText(status), cancel: true });
    else if (status.state === "running") show({ text: runningText(status), cancel: true, progress: status.progress });
    else if (status.state === "done") show({ text: FINISHED_TEXT.done(status) });
    else show({ text: FINISHED_TEXT[status.state](status), run: ["Run again", start] });
  }

  function update(job, status) {
    if (current !== job) return;
    if (job.status?.id === status.id && RANK[status.state] < RANK[job.status.state]) return;
    job.id = status.id;
    job.status = status;
    known.set(job.key, status.id);
    showStatus(status);
    if (job.announced !== status.state) {
      job.announced = status.state;
      announce(ANNOUNCED[status.state](status));
      if (status.state === "done") onDone();
    }
  }

  // Follow the job's events until it finishes, its status read first; a stream that breaks or ends early is opened
  // again twice, then the panel says so.
  async function follow(job) {
    for (let attempt = 0; attempt < 3 && current === job; attempt += 1) {
      try {
        update(job, await getJob(job.id, job.controller.signal));
        if (FINISHED.includes(job.status.state)) return;
        await followJob(job.id, { signal: job.controller.signal, onStatus: (status) => update(job, status) });
        if (FINISHED.includes(job.status.state)) return;
      } catch (error) {
        if (error.name === "AbortError" || current !== job) return;
        if (error.status === 404) {
          known.delete(job.key);
          job.id = null;
          job.status = null;
          show({ text: "This server no longer knows the job (it may have restarted).", run: ["Run again", start] });
          return;
        }
      }
    }
    if (current === job) {
      show({ text: "The page lost contact with the job; it may still be running on the server.", run: ["Check again", follow] });
    }
  }

  async function start(job) {
    action = null; // pressed once: the button waits for the answer (kept focusable, so the focus is not lost)
    parts.text.textContent = "Sending the job…";
    job.status = null; // a new job (or the same one, joined): its states are all news
    job.announced = null;
    try {
      update(job, await startJob(job.params, job.controller.signal));
    } catch (error) {
      if (error.name === "AbortError" || current !== job) return;
      const text = refusedText(error instanceof ApiError ? error : new ApiError(-1, error.message));
      show({ text, run: error.status === 422 ? null : ["Try again", start] });
      announce(text);
      return;
    }
    follow(job);
  }

  // The job of these settings: the current one, or a new one (the job started for them earlier, if any).
  function select(params) {
    const key = params.toString();
    if (current?.key === key) return current;
    current?.controller.abort();
    current = { key, params, id: known.get(key) ?? null, status: null, controller: new AbortController(), announced: null };
    return current;
  }

  parts.run.addEventListener("click", () => {
    const job = current;
    if (!job || !action) return;
    job.controller.abort(); // a follow still under way stops: the button starts afresh
    job.controller = new AbortController();
    action(job);
  });
  let cancelling = false; // a DELETE under way: the button stays focusable (a disabled one would drop the focus)
  parts.cancel.addEventListener("click", async () => {
    const job = current;
    if (!job?.id || cancelling) return;
    cancelling = true;
    try {
      update(job, await cancelJob(job.id));
    } catch (error) {
      if (current === job) parts.text.textContent = `The job could not be cancelled (${error.message}).`;
    } finally {
      cancelling = false;
    }
  });

  return {
    // The state's settings run only as a job: the panel right after anchor, offering to run it (or following the job
    // already started for them).
    offer(params, anchor) {
      const job = select(params);
      anchor?.after(panel);
      if (job.status) return; // on show already
      if (job.id !== null) follow(job);
      else show({ text: "", run: ["Run as a job", start] });
    },
    // The result of the state's job-only settings is on show (computed by a job earlier, or just now).
    computed(params) {
      const job = select(params);
      job.controller.abort();
      if (job.status?.state !== "done") show({ text: "Computed earlier as a job: the figures show its result." });
    },
    hide() {
      current?.controller.abort();
      current = null;
      panel.hidden = true;
    },
  };
}
