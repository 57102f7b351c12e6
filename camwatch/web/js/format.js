// Formatting for people: local times, durations, sizes, percentages.

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit", minute: "2-digit", second: "2-digit",
});
const dayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "long", day: "numeric", month: "long", year: "numeric",
});
const shortDayFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short",
});

export const localTime = (ms) => timeFormat.format(ms);

/** "2026-11-24" for the local day containing ms (the value an <input type=date> uses). */
export function dayKey(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Local midnight starting the day "2026-11-24", epoch ms; and the one after it. */
export function dayBounds(key) {
  const [year, month, day] = key.split("-").map(Number);
  return [new Date(year, month - 1, day).getTime(), new Date(year, month - 1, day + 1).getTime()];
}

/** "Today", "Yesterday" or the local date (full, or short: "Fri 20 Nov"). */
export function dayLabel(key, { short = false, now = Date.now() } = {}) {
  if (key === dayKey(now)) return "Today";
  const [start] = dayBounds(dayKey(now));
  if (key === dayKey(start - 1)) return "Yesterday";
  return (short ? shortDayFormat : dayFormat).format(dayBounds(key)[0]);
}


/** 14.2 -> "0:14", 3725 -> "1:02:05". */
export function duration(seconds) {
  const total = Math.max(0, Math.round(seconds ?? 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function bytes(n) {
  if (!n) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(value < 10 && unit ? 1 : 0)} ${units[unit]}`;
}

export const percent = (value) => `${Number(value ?? 0).toFixed(2)}%`;
