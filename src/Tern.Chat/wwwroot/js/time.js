// Times come as ISO 8601 UTC from the server and are shown in the visitor's own time zone.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const shortDayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

/** A <time> with the local hour and minute, the full date as its tooltip and the instant as its datetime. */
export function timeElement(date, className = 'time') {
  const element = document.createElement('time');
  element.className = className;
  element.textContent = timeFormat.format(date);
  element.dateTime = date.toISOString();
  element.title = fullFormat.format(date);
  return element;
}

/** Day, month and time, for search results that may be from any day. */
export function shortDateTime(date) {
  return shortDayFormat.format(date);
}

export function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "Today", "Yesterday" or the full date, for the separators between days. */
export function dayLabel(date) {
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (sameDay(date, today)) return 'Today';
  if (sameDay(date, yesterday)) return 'Yesterday';
  return dayFormat.format(date);
}

/** A key that is equal for two dates on the same local day. */
export function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}
