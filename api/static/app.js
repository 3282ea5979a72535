// PolicyKB page behaviour: keyboard, copy citation, table sort / filter / CSV export.
// Text only ever goes in through textContent or attributes: never as HTML.
"use strict";

const typing = (el) =>
  el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));

// "/" focuses the search box wherever the reader is not typing.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || typing(document.activeElement)) return;
  const box = document.getElementById("q");
  if (!box) return;
  event.preventDefault();
  box.focus();
  box.select();
});

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

function flash(button, message) {
  const original = button.dataset.label || button.textContent;
  button.dataset.label = original;
  button.textContent = message;
  setTimeout(() => { button.textContent = original; }, 1500);
}

const cellValue = (cell) =>
  (cell.dataset.csv ?? cell.textContent).replace(/\s+/g, " ").trim();

const normalised = (text) => text.normalize("NFKC").replace(/\s+/g, "").toLowerCase();

function sortTable(table, column, header) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).filter((r) => r.cells.length > column);
  const values = rows.map((r) => cellValue(r.cells[column]));
  const numeric = values.every((v) => v === "" || !Number.isNaN(Number(v)));
  const ascending = header.getAttribute("aria-sort") !== "ascending";
  const order = rows.map((row, i) => ({ row, value: values[i] }));
  order.sort((a, b) => {
    const cmp = numeric
      ? (Number(a.value) || 0) - (Number(b.value) || 0)
      : a.value.localeCompare(b.value, "zh-CN");
    return ascending ? cmp : -cmp;
  });
  table.querySelectorAll("th[aria-sort]").forEach((th) => th.removeAttribute("aria-sort"));
  header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  order.forEach(({ row }) => body.appendChild(row));
}

function filterTable(table, query) {
  const wanted = normalised(query);
  for (const row of table.tBodies[0].rows) {
    row.hidden = wanted !== "" && !normalised(row.textContent).includes(wanted);
  }
}

const csvField = (value) => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

// The rows the reader sees (after filtering), without button-only columns; UTF-8 with a BOM.
function tableCsv(table) {
  const headers = Array.from(table.tHead.rows[0].cells);
  const keep = headers.map((th, i) => (th.classList.contains("no-csv") ? -1 : i)).filter((i) => i >= 0);
  const lines = [keep.map((i) => csvField(cellValue(headers[i])))];
  for (const row of table.tBodies[0].rows) {
    if (row.hidden || row.cells.length < headers.length) continue;
    lines.push(keep.map((i) => csvField(cellValue(row.cells[i]))));
  }
  return "\ufeff" + lines.map((l) => l.join(",")).join("\r\n") + "\r\n";
}

function download(text, filename) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

document.addEventListener("click", async (event) => {
  const target = event.target;
  const copy = target.closest("button.copy");
  if (copy) {
    try {
      await copyText(copy.dataset.citation);
      flash(copy, "已复制");
    } catch {
      flash(copy, "复制失败");
    }
    return;
  }
  const csv = target.closest("button.csv");
  if (csv) {
    download(tableCsv(document.getElementById(csv.dataset.table)), csv.dataset.filename);
    return;
  }
  const toggle = target.closest("button.toggle-all");
  if (toggle) {
    document.querySelectorAll(".tree details").forEach((d) => { d.open = toggle.dataset.open === "1"; });
    return;
  }
  const header = target.closest("table.sortable thead th");
  if (header && !target.closest("a")) {
    sortTable(header.closest("table"), header.cellIndex, header);
  }
});

// Sortable headers take the keyboard too: Tab to one, Enter or Space sorts.
document.querySelectorAll("table.sortable thead th").forEach((th) => { th.tabIndex = 0; });
document.addEventListener("keydown", (event) => {
  const header = event.target.closest && event.target.closest("table.sortable thead th");
  if (!header || event.target.closest("a") || (event.key !== "Enter" && event.key !== " ")) return;
  event.preventDefault();
  sortTable(header.closest("table"), header.cellIndex, header);
});

document.addEventListener("input", (event) => {
  const box = event.target;
  if (box.classList && box.classList.contains("table-filter")) {
    filterTable(document.getElementById(box.dataset.table), box.value);
  }
});

// Empty filters stay out of the address, so a search's URL reads as what was asked.
document.addEventListener("submit", (event) => {
  for (const field of event.target.querySelectorAll("input, select")) {
    if (field.name && field.value === "") field.disabled = true;
  }
});

// Coming back to a page through history re-enables what the submit disabled.
window.addEventListener("pageshow", () => {
  document.querySelectorAll("form [disabled]").forEach((field) => { field.disabled = false; });
});

// Forms that change the KB (the remove button) ask first.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.classList.contains("confirm") && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// A write job's page follows its progress (GET /jobs/{id}, each second), then shows the report.
const jobSection = document.getElementById("job");
const jobActive = (state) => state === "queued" || state === "running";
if (jobSection && jobActive(jobSection.dataset.state)) {
  const words = JSON.parse(jobSection.dataset.words || "{}");
  const word = (code) => words[code] || code;
  const poll = async () => {
    try {
      const response = await fetch(`/jobs/${encodeURIComponent(jobSection.dataset.job)}`, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (response.ok) {
        const job = await response.json();
        if (!jobActive(job.state)) {
          window.location.reload();
          return;
        }
        const bar = jobSection.querySelector(".job-progress");
        jobSection.querySelector(".job-state").textContent = word(job.state);
        jobSection.querySelector(".job-stage").textContent = word(job.progress.stage);
        jobSection.querySelector(".job-count").textContent = `${job.progress.done} / ${job.progress.total}`;
        bar.max = job.progress.total || 1;
        bar.value = job.progress.done;
      }
    } catch {
      // a dropped request: the next poll tries again
    }
    setTimeout(poll, 1000);
  };
  setTimeout(poll, 1000);
}
