// Tells the server the browser's time zone (a cookie), so pages show times where the reader is.
// Without JavaScript, times are shown in UTC and, on an event page, in the session's own zone.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const current = document.cookie.split("; ").find((item) => item.startsWith("deliberation_time_zone="));
if (zone && current !== `deliberation_time_zone=${encodeURIComponent(zone)}`) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `deliberation_time_zone=${encodeURIComponent(zone)}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
}
