(function () {
"use strict";
var root = document.documentElement, poll = Number(root.getAttribute("data-poll")) * 1000 || 0;
var etag = root.getAttribute("data-etag"), userToggled = false;
root.classList.add("js");
function span(s) {
  s = Math.floor(Math.abs(s));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 259200) { var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60); return m && h < 10 ? h + " h " + m + " min" : h + " h"; }
  var d = Math.floor(s / 86400), dh = Math.floor(s % 86400 / 3600);
  return dh && d < 10 ? d + " d " + dh + " h" : d + " d";
}
function ago(s) { return Math.abs(s) < 5 ? "just now" : s > 0 ? span(s) + " ago" : "in " + span(s); }
function ages() {
  var now = Date.now();
  document.querySelectorAll("time[data-ago]").forEach(function (t) {
    var w = ago((now - Date.parse(t.dateTime)) / 1000);
    if (t.textContent !== w) t.textContent = w;
  });
}
function filter() {
  var tag = new URLSearchParams(location.search).get("tag");
  if (!tag || (poll && !root.hasAttribute("data-cached"))) return;   // served: the server filtered it
  document.querySelectorAll("[data-tags], article.card").forEach(function (c) {
    c.hidden = (" " + (c.getAttribute("data-tags") || "") + " ").indexOf(" " + tag + " ") < 0;
  });
}
var FOCUSABLE = "a[href],button,input,summary,[tabindex]";
function focusKey() {
  var a = document.activeElement, host = a && a !== document.body ? a.closest("[id]") : null;
  return host ? [host.id, Array.prototype.indexOf.call(host.querySelectorAll(FOCUSABLE), a)] : null;
}
function refocus(key) {
  var host = key && document.getElementById(key[0]);
  if (!host) return;
  var el = key[1] < 0 ? host : host.querySelectorAll(FOCUSABLE)[key[1]];
  if (el && el !== document.activeElement) el.focus({preventScroll: true});
}
function keyed(el) { return el.children.length > 0 && Array.prototype.every.call(el.children, function (c) { return c.id; }); }
function children(old, fresh) {
  // children with ids are matched by id: only the ones that changed are replaced, new ones
  // inserted where they belong, gone ones removed; anything else is replaced whole
  if (!keyed(old) || !keyed(fresh)) { old.innerHTML = fresh.innerHTML; return; }
  var byId = {};
  Array.prototype.forEach.call(old.children, function (c) { byId[c.id] = c; });
  Array.prototype.slice.call(fresh.children).forEach(function (f, at) {
    var had = byId[f.id], node = had && had.outerHTML === f.outerHTML ? had : document.importNode(f, true);
    delete byId[f.id];
    if (had && node !== had) had.remove();
    if (old.children[at] !== node) old.insertBefore(node, old.children[at] || null);
  });
  Object.keys(byId).forEach(function (id) { byId[id].remove(); });
}
function attrs(to, from) {
  Array.prototype.slice.call(to.attributes).forEach(function (a) { if (!from.hasAttribute(a.name)) to.removeAttribute(a.name); });
  Array.prototype.forEach.call(from.attributes, function (a) { if (to.getAttribute(a.name) !== a.value) to.setAttribute(a.name, a.value); });
}
function swap(html) {
  var doc = new DOMParser().parseFromString(html, "text/html"), key = focusKey(), x = scrollX, y = scrollY;
  document.querySelectorAll("[data-live]").forEach(function (old) {
    var fresh = doc.getElementById(old.id);
    if (!fresh) return;
    attrs(old, fresh);
    if (fresh.innerHTML !== old.innerHTML) children(old, fresh);
  });
  var health = document.getElementById("health"), next = doc.getElementById("health");
  if (health && next && !userToggled) health.open = next.open;
  document.title = doc.title;
  refocus(key);
  if (scrollX !== x || scrollY !== y) scrollTo(x, y);
}
function clock(ms) {
  return new Date(ms).toLocaleString([], {weekday: "short", hour: "numeric", minute: "2-digit", timeZoneName: "short"});
}
function checkedTime() { return document.querySelector("#checked time[data-ago]"); }
function live(why) {
  // why: null (live), "offline", or what went wrong. Not live: said at once, with the time of
  // the data shown, and the Trigger now buttons are off (a press would only find an error page)
  var box = document.getElementById("offline"), state = document.getElementById("live-state"), t = checkedTime();
  if (state) state.textContent = !why ? "live" : why === "offline" ? "offline" : "not live";
  document.querySelectorAll("form.trigger button").forEach(function (b) {
    if (why && !b.disabled) { b.disabled = true; b.setAttribute("data-off", ""); }
    if (!why && b.hasAttribute("data-off")) { b.disabled = false; b.removeAttribute("data-off"); }
  });
  if (!box) return;
  box.hidden = !why;
  if (!why) return;
  var at = t ? Date.parse(t.dateTime) : Date.now(), age = document.createElement("time");
  age.dateTime = new Date(at).toISOString();
  age.setAttribute("data-ago", "");
  box.textContent = (why === "offline" ? "Offline: alive serve cannot be reached" : "Not live (" + why + ")") +
    ". This page shows the fleet as of " + clock(at) + " (";
  box.appendChild(age);
  box.appendChild(document.createTextNode("); Trigger now is off until it is back."));
  ages();
}
function current() {
  // the server answered: what the page shows is current now
  var t = checkedTime();
  if (t) { t.dateTime = new Date().toISOString(); t.title = clock(Date.now()); }
}
function page(r) {
  if (!r.ok) throw new Error(r.status === 401 ? "logged out: reload to log in" : "HTTP " + r.status);
  return r;
}
var timer = 0, asking = false;
function tick() {
  // one request per poll: this page's own URL with its ETag; 304 while nothing changed
  if (asking) return;
  asking = true;
  clearTimeout(timer);
  var headers = etag ? {"If-None-Match": etag} : {};
  fetch(location.pathname + location.search, {headers: headers, cache: "no-store", credentials: "same-origin"})
    .then(function (r) {
      if (r.status === 304) return;
      var next = page(r).headers.get("ETag");
      return r.text().then(function (html) { swap(html); etag = next; });
    }).then(function () { current(); live(null); }, function (e) {
      live(e instanceof TypeError || !e.message ? "offline" : e.message);
    }).then(function () { asking = false; ages(); timer = setTimeout(tick, poll); });
}
var params = new URLSearchParams(location.search);
if (params.has("notice")) {
  params.delete("notice");
  history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : "") + location.hash);
}
var summary = document.querySelector("#health > summary");
if (summary) summary.addEventListener("click", function () { userToggled = true; });
ages();
filter();
setInterval(ages, 15000);
if (poll) {
  // a copy the service worker kept (data-cached), or no network: offline from the first paint
  if (root.hasAttribute("data-cached") || navigator.onLine === false) { live("offline"); tick(); }
  else { live(null); timer = setTimeout(tick, poll); }
  addEventListener("offline", function () { live("offline"); });
  addEventListener("online", tick);
  addEventListener("pageshow", function (e) { if (e.persisted) tick(); });
}
if (root.hasAttribute("data-sw") && "serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(function () {});
})();
