/* stats_page.c - what `serve --stats` serves, formatted from a snapshot of
 * ss_server_stats: /metrics in the Prometheus text exposition format 0.0.4
 * (prometheus.io/docs/instrumenting/exposition_formats), the HTML status
 * page with its live chart (inline, nothing fetched from elsewhere), and the
 * line SIGUSR1 logs. Pure functions of their arguments. */
#include "stats_http.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void stats_buf_printf(stats_buf_t *b, const char *fmt, ...)
{
    if (b->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->overflow = 1;
        return;
    }
    b->len += (size_t)n;
}

static void put(stats_buf_t *b, const char *s)
{
    stats_buf_printf(b, "%s", s);
}

/* ------------------------------------------------------------ metrics */

/* A label value: backslash, double quote and line feed escaped, as the
 * format asks. */
static void label_value(stats_buf_t *b, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            stats_buf_printf(b, "\\%c", *v);
        else if (*v == '\n')
            put(b, "\\n");
        else
            stats_buf_printf(b, "%c", *v);
    }
}

/* name{service="...",mode="..."[,extra]} */
static void sample_start(stats_buf_t *b, const char *name, const stats_info_t *info)
{
    stats_buf_printf(b, "%s{service=\"", name);
    label_value(b, info->service);
    put(b, "\",mode=\"");
    label_value(b, info->mode);
    put(b, "\"");
}

static void header(stats_buf_t *b, const char *name, const char *type, const char *help)
{
    stats_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(stats_buf_t *b, const stats_info_t *info, const char *name, const char *type,
                const char *help, uint64_t v)
{
    header(b, name, type, help);
    sample_start(b, name, info);
    stats_buf_printf(b, "} %" PRIu64 "\n", v);
}

/* A bucket's bound in seconds as Prometheus writes it: "0.005", "2.5", "60". */
static void le_text(uint64_t ms, char *buf, size_t cap)
{
    if (ms == UINT64_MAX)
        snprintf(buf, cap, "+Inf");
    else
        snprintf(buf, cap, "%g", (double)ms / 1000);
}

static void histogram(stats_buf_t *b, const ss_stats_t *st, const stats_info_t *info)
{
    const char *name = "socketserver_session_duration_seconds";
    header(b, name, "histogram", "How long requests lasted, from intake to their end.");
    for (int i = 0; i < SS_STATS_BUCKETS; i++) {
        char le[32];
        le_text(st->duration_le_ms[i], le, sizeof le);
        sample_start(b, "socketserver_session_duration_seconds_bucket", info);
        stats_buf_printf(b, ",le=\"%s\"} %" PRIu64 "\n", le, st->duration_bucket[i]);
    }
    sample_start(b, "socketserver_session_duration_seconds_sum", info);
    stats_buf_printf(b, "} %" PRIu64 ".%03u\n", st->duration_sum_ms / 1000,
                     (unsigned)(st->duration_sum_ms % 1000));
    sample_start(b, "socketserver_session_duration_seconds_count", info);
    stats_buf_printf(b, "} %" PRIu64 "\n", st->duration_bucket[SS_STATS_BUCKETS - 1]);
}

void stats_metrics(stats_buf_t *b, const ss_stats_t *st, const stats_info_t *info)
{
    one(b, info, "socketserver_connections_accepted_total", "counter",
        "Stream connections accepted, those then refused included.", st->accepted);
    one(b, info, "socketserver_connections_active", "gauge", "Requests running now.", st->active);
    header(b, "socketserver_refused_total", "counter", "Clients refused, by reason.");
    for (int i = 0; i < SS_REFUSED__COUNT; i++) {
        sample_start(b, "socketserver_refused_total", info);
        stats_buf_printf(b, ",reason=\"%s\"} %" PRIu64 "\n", ss_refusal_name((ss_refusal_t)i),
                         st->refused[i]);
    }
    one(b, info, "socketserver_requests_total", "counter",
        "Requests a handler ran for: stream sessions and datagrams.", st->requests);
    one(b, info, "socketserver_bytes_received_total", "counter", "Payload bytes received.",
        st->bytes_in);
    one(b, info, "socketserver_bytes_sent_total", "counter", "Payload bytes sent.", st->bytes_out);
    one(b, info, "socketserver_handler_errors_total", "counter",
        "Requests that ended in an error, timeouts included.", st->handler_errors);
    one(b, info, "socketserver_timeouts_total", "counter",
        "Requests ended by a timeout (idle, line, min-rate, request).", st->timeouts);
    header(b, "socketserver_sessions_ended_total", "counter",
           "Requests by how they ended, and datagrams dropped unserved (the access log's result).");
    for (int i = 0; i < SS_STATS_RESULTS; i++) {
        const char *r = ss_stats_result_name(i);
        if (!r) continue;
        sample_start(b, "socketserver_sessions_ended_total", info);
        stats_buf_printf(b, ",result=\"%s\"} %" PRIu64 "\n", r, st->ended[i]);
    }
    histogram(b, st, info);
    header(b, "socketserver_start_time_seconds", "gauge",
           "When the server started, in seconds since the epoch.");
    sample_start(b, "socketserver_start_time_seconds", info);
    stats_buf_printf(b, "} %.3f\n", info->started);
    one(b, info, "socketserver_draining", "gauge", "1 while the server drains, else 0.",
        (uint64_t)(info->draining != 0));
}

/* ------------------------------------------------------------ the page */

/* Text for HTML: the five characters that matter escaped. */
static void html_text(stats_buf_t *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            put(b, "&lt;");
            break;
        case '>':
            put(b, "&gt;");
            break;
        case '&':
            put(b, "&amp;");
            break;
        case '"':
            put(b, "&quot;");
            break;
        case '\'':
            put(b, "&#39;");
            break;
        default:
            stats_buf_printf(b, "%c", *s);
        }
    }
}

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<link rel=\"icon\" href=\"data:,\">\n<title>socketserver status</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}\n"
    "h1{font-size:1.3em;margin:0 0 .5em}\n"
    "table{border-collapse:collapse;margin:.5em 0 1em}\n"
    "td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".state{font-weight:bold}.draining{color:#b00}.serving{color:#070}\n"
    "pre{margin:0}svg{background:#fff;border:1px solid #ccc}\n"
    ".req{stroke:#06c;fill:none;stroke-width:2}.act{stroke:#e60;fill:none;stroke-width:2}\n"
    ".legend span{display:inline-block;width:1em;height:.3em;margin:0 .3em .2em 1em}\n"
    "</style></head><body>\n";

/* A counter row whose cell the script keeps up to date (data-m: the
 * metric, data-r: its reason or result label). */
static void row(stats_buf_t *b, const char *label, const char *metric, const char *reason,
                uint64_t v)
{
    stats_buf_printf(b, "<tr><th>%s</th><td class=\"n\" id=\"%s%s%s\" data-m=\"%s\"", label, metric,
                     reason ? "-" : "", reason ? reason : "", metric);
    if (reason) stats_buf_printf(b, " data-r=\"%s\"", reason);
    stats_buf_printf(b, ">%" PRIu64 "</td></tr>\n", v);
}

static void counters(stats_buf_t *b, const ss_stats_t *st)
{
    put(b, "<h2>Counters</h2>\n<table id=\"counters\">\n");
    row(b, "Connections accepted", "socketserver_connections_accepted_total", NULL, st->accepted);
    row(b, "Active", "socketserver_connections_active", NULL, st->active);
    row(b, "Requests", "socketserver_requests_total", NULL, st->requests);
    row(b, "Bytes received", "socketserver_bytes_received_total", NULL, st->bytes_in);
    row(b, "Bytes sent", "socketserver_bytes_sent_total", NULL, st->bytes_out);
    row(b, "Handler errors", "socketserver_handler_errors_total", NULL, st->handler_errors);
    row(b, "Timeouts", "socketserver_timeouts_total", NULL, st->timeouts);
    for (int i = 0; i < SS_STATS_RESULTS; i++) {
        const char *r = ss_stats_result_name(i);
        if (!r) continue;
        char label[64];
        snprintf(label, sizeof label, "Ended: %s", r);
        row(b, label, "socketserver_sessions_ended_total", r, st->ended[i]);
    }
    for (int i = 0; i < SS_REFUSED__COUNT; i++) {
        char label[64];
        snprintf(label, sizeof label, "Refused: %s", ss_refusal_name((ss_refusal_t)i));
        row(b, label, "socketserver_refused_total", ss_refusal_name((ss_refusal_t)i),
            st->refused[i]);
    }
    put(b, "</table>\n");
}

/* The script: every second, /metrics parsed, the cells above updated, and
 * two lines drawn over the last two minutes: requests per second and
 * active requests. */
static const char page_script[] =
    "<script>\n\"use strict\";\n"
    "const W = 600, H = 160, N = 120, rate = [], act = [];\n"
    "let last = null;\n"
    "function parse(text) {\n"
    "  const m = {};\n"
    "  for (const line of text.split('\\n')) {\n"
    "    if (line === '' || line[0] === '#') continue;\n"
    "    const r = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})? (\\S+)$/.exec(line);\n"
    "    if (!r) continue;\n"
    "    const reason = /(?:reason|result)=\"([^\"]*)\"/.exec(r[3] || '');\n"
    "    m[r[1] + (reason ? '-' + reason[1] : '')] = Number(r[4]);\n"
    "  }\n"
    "  return m;\n"
    "}\n"
    "function path(v, max) {\n"
    "  return v.map((y, i) => (W - (v.length - 1 - i) * W / (N - 1)).toFixed(1) + ',' +\n"
    "    (H - 4 - y / max * (H - 8)).toFixed(1)).join(' ');\n"
    "}\n"
    "function draw() {\n"
    "  const max = Math.max(1, ...rate, ...act);\n"
    "  document.getElementById('rate').setAttribute('points', path(rate, max));\n"
    "  document.getElementById('act').setAttribute('points', path(act, max));\n"
    "  document.getElementById('max').textContent = max.toFixed(max < 10 ? 1 : 0);\n"
    "}\n"
    "function uptime() {\n"
    "  const s = Math.max(0, Date.now() / 1000 - START);\n"
    "  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);\n"
    "  const m = Math.floor(s % 3600 / 60), x = Math.floor(s % 60);\n"
    "  document.getElementById('uptime').textContent =\n"
    "    (d ? d + 'd ' : '') + h + 'h ' + m + 'm ' + x + 's';\n"
    "}\n"
    "async function tick() {\n"
    "  try {\n"
    "    const res = await fetch('/metrics', {cache: 'no-store'});\n"
    "    const m = parse(await res.text());\n"
    "    for (const td of document.querySelectorAll('td[data-m]'))\n"
    "      if (td.id in m) td.textContent = String(m[td.id]);\n"
    "    const now = Date.now() / 1000, req = m['socketserver_requests_total'];\n"
    "    if (last) rate.push(Math.max(0, (req - last.req) / (now - last.t)));\n"
    "    else rate.push(0);\n"
    "    act.push(m['socketserver_connections_active'] || 0);\n"
    "    while (rate.length > N) rate.shift();\n"
    "    while (act.length > N) act.shift();\n"
    "    last = {t: now, req: req};\n"
    "    const st = document.getElementById('state');\n"
    "    const dr = m['socketserver_draining'] === 1;\n"
    "    st.textContent = dr ? 'draining' : 'serving';\n"
    "    st.className = 'state ' + st.textContent;\n"
    "    document.getElementById('updated').textContent = new Date().toLocaleTimeString();\n"
    "    draw();\n"
    "  } catch (e) {\n"
    "    document.getElementById('updated').textContent = 'unreachable';\n"
    "  }\n"
    "  uptime();\n"
    "}\n"
    "tick();\nsetInterval(tick, 1000);\n"
    "</script>\n";

static void chart(stats_buf_t *b)
{
    put(b, "<h2>Last two minutes</h2>\n"
           "<div class=\"legend\"><span style=\"background:#06c\"></span>requests/s"
           "<span style=\"background:#e60\"></span>active requests"
           " (top of the chart: <b id=\"max\">1</b>)</div>\n"
           "<svg id=\"chart\" width=\"600\" height=\"160\" viewBox=\"0 0 600 160\" "
           "role=\"img\" aria-label=\"requests per second and active requests\">\n"
           "<path d=\"M0 41H600M0 80H600M0 119H600\" stroke=\"#eee\"/>\n"
           "<polyline id=\"rate\" class=\"req\" points=\"\"/>\n"
           "<polyline id=\"act\" class=\"act\" points=\"\"/>\n</svg>\n"
           "<p>Updated <span id=\"updated\">never</span>; "
           "<a href=\"/metrics\">/metrics</a>, <a href=\"/healthz\">/healthz</a></p>\n");
}

void stats_html(stats_buf_t *b, const ss_stats_t *st, const stats_info_t *info, double now)
{
    put(b, page_head);
    put(b, "<h1>socketserver: ");
    html_text(b, info->service);
    put(b, "</h1>\n<table id=\"about\">\n<tr><th>State</th><td id=\"state\" class=\"state ");
    put(b, info->draining ? "draining\">draining" : "serving\">serving");
    put(b, "</td></tr>\n<tr><th>Service</th><td id=\"service\">");
    html_text(b, info->service);
    put(b, "</td></tr>\n<tr><th>Mode</th><td id=\"mode\">");
    html_text(b, info->mode);
    stats_buf_printf(b, "</td></tr>\n<tr><th>PID</th><td id=\"pid\">%d</td></tr>\n", info->pid);
    put(b, "<tr><th>Listeners</th><td id=\"listeners\"><pre>");
    html_text(b, info->listeners);
    long up = now > info->started ? (long)(now - info->started) : 0;
    stats_buf_printf(b, "</pre></td></tr>\n<tr><th>Uptime</th><td id=\"uptime\">%lds</td></tr>\n",
                     up);
    put(b, "</table>\n");
    counters(b, st);
    chart(b);
    stats_buf_printf(b, "<script>const START = %.3f;</script>\n", info->started);
    put(b, page_script);
    put(b, "</body></html>\n");
}

/* ------------------------------------------------------------ the log */

void stats_line(char *buf, size_t cap, const ss_stats_t *st)
{
    stats_buf_t b = {buf, cap, 0, 0};
    uint64_t refused = 0;
    for (int i = 0; i < SS_REFUSED__COUNT; i++) refused += st->refused[i];
    stats_buf_printf(&b,
                     "stats: accepted %" PRIu64 ", active %" PRIu64 ", requests %" PRIu64
                     ", bytes in %" PRIu64 " out %" PRIu64 ", handler errors %" PRIu64
                     ", timeouts %" PRIu64 ", refused %" PRIu64,
                     st->accepted, st->active, st->requests, st->bytes_in, st->bytes_out,
                     st->handler_errors, st->timeouts, refused);
    const char *sep = " (";
    for (int i = 0; i < SS_REFUSED__COUNT; i++) {
        if (!st->refused[i]) continue;
        stats_buf_printf(&b, "%s%s %" PRIu64, sep, ss_refusal_name((ss_refusal_t)i),
                         st->refused[i]);
        sep = ", ";
    }
    if (refused) put(&b, ")");
    uint64_t n = st->duration_bucket[SS_STATS_BUCKETS - 1];
    if (n)
        stats_buf_printf(&b, ", mean duration %.3f s",
                         (double)st->duration_sum_ms / 1000 / (double)n);
    if (b.overflow && cap > 4) memcpy(buf + cap - 4, "...", 4);
}
