"""What makes `alive serve` an installable app on a phone: the web app manifest, its icons
(an SVG, and PNGs drawn here with zlib alone) and a service worker that keeps the last
page seen, so a phone without a connection still shows it, with its age (the page's own
script says "Cannot reach alive serve: ... as it was 3 h ago").

The service worker answers page loads (navigations) only: network first, and the copy
it saved when the network fails. /status.json, triggers and everything else go to the
network as they would without it, so nothing stale is ever taken for live. A logout
(POST /logout), or a login form in place of a page, deletes every saved page.
"""
import functools
import json
import struct
import zlib

GREEN = (0x1a, 0x7f, 0x37)
DARK = "#1f2328"
ICON_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512"><title>alive</title>'
            '<rect width="512" height="512" rx="96" fill="#1a7f37"/>'
            '<circle cx="256" cy="256" r="120" fill="none" stroke="#fff" stroke-width="44"/>'
            '<circle cx="256" cy="256" r="40" fill="#fff"/></svg>\n')
PNG_SIZES = (192, 512)

SERVICE_WORKER = r"""// alive serve's service worker: the last page seen, for when the network is gone.
"use strict";
var CACHE = "alive-pages-v2";
self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});
// A saved copy says so (data-cached on <html>): its script shows it offline from the first paint.
function marked(saved) {
  return saved.text().then(function (text) {
    var headers = new Headers(saved.headers);
    headers.delete("Content-Encoding");
    headers.delete("Content-Length");
    return new Response(text.replace("<html ", "<html data-cached "), {status: 200, headers: headers});
  });
}
var NOT_SAVED = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
  '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Offline · alive</title></head>' +
  '<body><h1>Offline</h1><p>alive serve cannot be reached, and this page was not saved on this device.</p>' +
  '<p><a href="/">The dashboard as it was last seen</a></p></body></html>\n';
// A logout, or the login form in place of a page (logged out elsewhere, a new token): no page
// of the fleet stays on this device (Clear-Site-Data does the same where the browser honours it).
function forget() {
  return caches.keys().then(function (keys) { return Promise.all(keys.map(function (k) { return caches.delete(k); })); });
}
self.addEventListener("fetch", function (e) {
  var req = e.request;
  if (req.method === "POST" && new URL(req.url).pathname === "/logout") { e.waitUntil(forget()); return; }
  if (req.method !== "GET" || req.mode !== "navigate") return;
  e.respondWith(fetch(req).then(function (res) {
    if (res.status === 401) return forget().then(function () { return res; });
    if (res.ok && (res.headers.get("Content-Type") || "").indexOf("text/html") === 0) {
      var copy = res.clone();
      caches.open(CACHE).then(function (c) { return c.put(req.url, copy); });
    }
    return res;
  }).catch(function () {
    // the page itself when it was saved; the dashboard stands in only for the dashboard
    // (another filter of it: its script filters); any other page is never answered with it
    var dashboard = new URL(req.url).pathname === "/";
    return caches.open(CACHE).then(function (c) {
      return c.match(req.url).then(function (hit) { return hit || (dashboard && c.match(new URL("/", req.url).href)); });
    }).then(function (hit) {
      return hit ? marked(hit) : new Response(NOT_SAVED, {status: 503, headers: {"Content-Type": "text/html; charset=utf-8"}});
    });
  }));
});
"""


def manifest():
    return json.dumps({
        "name": "alive: the fleet's health",
        "short_name": "alive",
        "description": "Every scheduled job and data file of the fleet: on time or not, and what to do.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": DARK,
        "theme_color": DARK,
        # one image per purpose: Chrome warns on "any maskable" (a maskable icon is cropped)
        "icons": [{"src": "/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}]
        + [{"src": f"/icon-{n}.png", "sizes": f"{n}x{n}", "type": "image/png", "purpose": "any"}
           for n in PNG_SIZES]
        + [{"src": f"/icon-maskable-{n}.png", "sizes": f"{n}x{n}", "type": "image/png", "purpose": "maskable"}
           for n in PNG_SIZES],
    }, indent=2) + "\n"


@functools.lru_cache(maxsize=2 * len(PNG_SIZES))
def icon_png(size, maskable=False):
    """The icon as a PNG of size x size: a white ring and dot on green, edges anti-aliased by
    coverage. maskable: drawn full-bleed and opaque (the platform crops it to its own shape;
    the ring stays inside the safe zone, a circle of 80% of the width). Else ("any"): the
    rounded square of icon.svg, its corners see-through."""
    c = size / 2
    ring, half_width, dot = size * 120 / 512, size * 22 / 512, size * 40 / 512
    corner = size * 96 / 512
    rows = []
    for y in range(size):
        row = bytearray([0])                   # filter type 0 for each scanline
        dy = y + 0.5 - c
        for x in range(size):
            dist = ((x + 0.5 - c) ** 2 + dy * dy) ** 0.5
            cover = max(min(half_width - abs(dist - ring) + 0.5, 1.0), 0.0, min(dot - dist + 0.5, 1.0))
            row += bytes(round(g + (255 - g) * cover) for g in GREEN)
            if not maskable:
                row.append(round(255 * rounded_square_cover(x + 0.5, y + 0.5, size, corner)))
        rows.append(bytes(row))
    return png(size, size, b"".join(rows), alpha=not maskable)


def rounded_square_cover(x, y, size, radius):
    """How much of the pixel centred at (x, y) lies inside a size x size square with rounded corners."""
    cx = min(max(x, radius), size - radius)
    cy = min(max(y, radius), size - radius)
    outside = ((x - cx) ** 2 + (y - cy) ** 2) ** 0.5
    return max(0.0, min(1.0, radius - outside + 0.5)) if outside else 1.0


def png(width, height, raw_rows, alpha=False):
    def chunk(kind, data):
        return struct.pack("!I", len(data)) + kind + data + struct.pack("!I", zlib.crc32(kind + data))

    header = struct.pack("!IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)     # 8-bit RGB(A)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw_rows, 9)) \
        + chunk(b"IEND", b"")
