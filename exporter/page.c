/*
 * page.c - errseq-exporter's GET /: a status page for people, in the
 * spirit of HAProxy's stats page.  One self-contained HTML document: its
 * style and its one script are inline (the script carries the response's
 * CSP nonce), nothing is loaded from elsewhere.
 *
 * The server renders the daemon's status and the slot table (pending slots
 * first, at most EXP_PAGE_ROWS rows, only names containing the ?q= filter
 * if one is given), so the page is complete without the script.  The
 * script adds the filter box (as-you-type, plain substring), sorting by
 * any column, and a refresh every 5 s from /api/v1/status and
 * /api/v1/slots?q=...&limit=....  Everything a client controls (slot
 * names, the filter) is data: escaped as entities here, set through
 * textContent and .value there, never through innerHTML.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "ctl/format.h"
#include "exporter/exporter.h"

void exp_html_escape(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fputs("\xef\xbf\xbd", f);	/* U+FFFD */
			else
				putc(*p, f);
		}
	}
}

static const char page_style[] =
"body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222}"
"h1{font-size:1.3em;margin:.2em 0}"
"table{border-collapse:collapse}"
"th,td{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}"
"td.n{text-align:right;font-variant-numeric:tabular-nums}"
"#slots th{cursor:pointer;background:#eee;user-select:none}"
"#slots th.asc::after{content:\" \\25B2\"}#slots th.desc::after{content:\" \\25BC\"}"
"tr.pending td{background:#fdd;font-weight:bold}"
"tr.pending td.state{color:#b00}"
"#daemon td{border:0;padding:.1em .6em}"
".down{color:#b00;font-weight:bold}.up{color:#070;font-weight:bold}"
"#bar{margin:.8em 0}#bar input[type=search]{width:20em}"
".note{color:#666}";

/* The script: no innerHTML anywhere; rows are built with createElement
 * and textContent. */
static const char page_script[] =
"(function(){'use strict';\n"
"var tb=document.getElementById('rows'),fb=document.getElementById('filter'),"
"po=document.getElementById('pendingonly'),cnt=document.getElementById('count'),"
"upd=document.getElementById('updated');\n"
"var key='state',dir=1;\n"
"function ago(ms){if(!ms)return '-';var s=Math.floor((Date.now()-ms)/1000);"
"if(s<0)return 'in the future';if(s<1)return 'just now';"
"if(s<60)return s+'s ago';if(s<3600)return Math.floor(s/60)+'m ago';"
"if(s<86400)return Math.floor(s/3600)+'h ago';return Math.floor(s/86400)+'d ago';}\n"
"function cell(tr,t,c){var td=document.createElement('td');td.textContent=t;"
"if(c)td.className=c;tr.appendChild(td);}\n"
"function row(s){var tr=document.createElement('tr');"
"var st=s.errno===0?2:(s.seen?1:0);"
"var ms=s.last_set_ns?Math.floor(s.last_set_ns/1e6):0;"
"tr.dataset.name=s.name;tr.dataset.state=st;"
"tr.dataset.errno=s.errno_name||String(s.errno);tr.dataset.counter=s.counter;"
"tr.dataset.sets=s.sets_total;tr.dataset.last=ms;tr.dataset.pid=s.last_pid;"
"tr.dataset.holders=s.holders;if(st===0)tr.className='pending';\n"
"cell(tr,s.name,'name');cell(tr,['pending','seen','never set'][st],'state');"
"cell(tr,s.errno?(s.errno_name||String(s.errno)):'-');"
"cell(tr,String(s.counter),'n');cell(tr,String(s.sets_total),'n');"
"cell(tr,ms?ago(ms):'-','last');cell(tr,s.last_pid?String(s.last_pid):'-','n');"
"cell(tr,String(s.holders),'n');return tr;}\n"
"function num(k){return k!=='name'&&k!=='errno';}\n"
"function cmp(a,b){var x=a.dataset[key],y=b.dataset[key];var r;"
"if(num(key)){r=Number(x)-Number(y);if(key==='last'||key==='sets')r=-r;}"
"else r=x<y?-1:x>y?1:0;"
"if(!r)r=a.dataset.name<b.dataset.name?-1:a.dataset.name>b.dataset.name?1:0;"
"return r*dir;}\n"
"function sort(){var rs=Array.prototype.slice.call(tb.rows);rs.sort(cmp);"
"rs.forEach(function(r){tb.appendChild(r);});"
"document.querySelectorAll('#slots th').forEach(function(th){"
"th.className=th.dataset.key===key?(dir>0?'asc':'desc'):'';});}\n"
"function apply(){var q=fb.value,n=0,shown=0;"
"Array.prototype.forEach.call(tb.rows,function(r){n++;"
"var h=(q!==''&&r.dataset.name.indexOf(q)<0)||(po.checked&&r.dataset.state!=='0');"
"r.hidden=h;if(!h)shown++;});cnt.textContent=shown+' of '+n+' slots shown';}\n"
"document.querySelectorAll('#slots th').forEach(function(th){"
"th.addEventListener('click',function(){var k=th.dataset.key;"
"if(k===key)dir=-dir;else{key=k;dir=1;}sort();});});\n"
"fb.addEventListener('input',apply);po.addEventListener('change',apply);\n"
"function setText(id,t){var e=document.getElementById(id);if(e)e.textContent=t;}\n"
"function refresh(){var u='api/v1/slots?limit=@LIMIT@&q='+encodeURIComponent(fb.value);\n"
"fetch('api/v1/status').then(function(r){if(!r.ok)throw r.status;return r.json();})"
".then(function(d){var s=d.status;setText('d-up','up');"
"document.getElementById('d-up').className='up';"
"setText('d-version',s.daemon_version);setText('d-pid',String(s.pid));"
"setText('d-slots',s.slots_used+' of '+s.capacity);"
"setText('d-clients',s.clients+' of '+s.max_clients);"
"setText('d-incarnation',s.incarnation);})"
".catch(function(){setText('d-up','down');"
"document.getElementById('d-up').className='down';});\n"
"fetch(u).then(function(r){if(!r.ok)throw r.status;return r.json();})"
".then(function(d){var f=document.createDocumentFragment();"
"d.slots.forEach(function(s){f.appendChild(row(s));});"
"while(tb.firstChild)tb.removeChild(tb.firstChild);tb.appendChild(f);"
"sort();apply();setText('updated','updated '+new Date().toLocaleTimeString());})"
".catch(function(){setText('updated','refresh failed');});}\n"
"Array.prototype.forEach.call(tb.rows,function(r){var c=r.querySelector('td.last');"
"if(c&&Number(r.dataset.last))c.textContent=ago(Number(r.dataset.last));});\n"
"sort();apply();setInterval(refresh,5000);\n"
"})();\n";

static void page_row(FILE *f, const struct errseq_slot_info *e, uint64_t now)
{
	unsigned en = ctl_val_errno(e->value);
	int st = en == 0 ? 2 : ctl_val_seen(e->value) ? 1 : 0;
	const char *ename = ctl_errno_name((int)en);
	char errs[16], age[32];
	uint64_t ms = e->last_set_ns / 1000000u;

	if (ename)
		snprintf(errs, sizeof(errs), "%s", ename);
	else
		snprintf(errs, sizeof(errs), "%u", en);
	fprintf(f, "<tr%s data-name=\"", st == 0 ? " class=\"pending\"" : "");
	exp_html_escape(f, e->name);
	fprintf(f, "\" data-state=\"%d\" data-errno=\"%s\" data-counter=\"%u\""
		" data-sets=\"%" PRIu64 "\" data-last=\"%" PRIu64 "\""
		" data-pid=\"%ld\" data-holders=\"%" PRIu32 "\">",
		st, errs, ctl_val_counter(e->value), e->sets_total, ms,
		(long)(e->last_pid > 0 ? e->last_pid : 0), e->holders);
	fputs("<td class=\"name\">", f);
	exp_html_escape(f, e->name);
	fprintf(f, "</td><td class=\"state\">%s</td><td>%s</td>",
		st == 0 ? "pending" : st == 1 ? "seen" : "never set",
		en ? errs : "-");
	if (!e->last_set_ns || !ctl_age(age, sizeof(age), now, e->last_set_ns))
		snprintf(age, sizeof(age), "-");
	fprintf(f, "<td class=\"n\">%u</td><td class=\"n\">%" PRIu64 "</td>"
		"<td class=\"last\">%s</td>", ctl_val_counter(e->value),
		e->sets_total, age);
	if (e->last_pid > 0)
		fprintf(f, "<td class=\"n\">%ld</td>", (long)e->last_pid);
	else
		fputs("<td class=\"n\">-</td>", f);
	fprintf(f, "<td class=\"n\">%" PRIu32 "</td></tr>\n", e->holders);
}

int exp_write_page(FILE *f, struct exp_snapshot *snap, const char *filter,
		   const char *nonce)
{
	const struct errseq_daemon_status *st = &snap->st;
	char host[256] = "", up[64], version[sizeof(st->version) + 1];
	uint64_t now = exp_now_ns(false);
	size_t shown = 0, matched = 0;

	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width\">"
	      "<title>errseqd status: ", f);
	exp_html_escape(f, host);
	fprintf(f, "</title><style nonce=\"%s\">%s</style></head><body>\n",
		nonce, page_style);
	fputs("<h1>errseqd on ", f);
	exp_html_escape(f, host);
	fputs("</h1>\n<table id=\"daemon\"><tbody>\n", f);
	snprintf(version, sizeof(version), "%.*s", (int)sizeof(st->version),
		 st->version);
	if (!snap->up) {
		fputs("<tr><td>errseqd</td><td id=\"d-up\" class=\"down\">down"
		      "</td></tr><tr><td>why</td><td id=\"d-why\">", f);
		exp_html_escape(f, errseq_strerror(snap->error));
		fputs("</td></tr>\n", f);
	} else {
		if (!ctl_duration(up, sizeof(up), st->uptime_ns))
			snprintf(up, sizeof(up), "?");
		fputs("<tr><td>errseqd</td><td id=\"d-up\" class=\"up\">up</td></tr>"
		      "<tr><td>version</td><td id=\"d-version\">", f);
		exp_html_escape(f, version);
		fprintf(f, "</td></tr><tr><td>pid</td><td id=\"d-pid\">%ld</td></tr>"
			"<tr><td>uptime</td><td id=\"d-uptime\">%s</td></tr>"
			"<tr><td>slots used</td><td id=\"d-slots\">%" PRIu32
			" of %" PRIu32 "</td></tr>"
			"<tr><td>clients</td><td id=\"d-clients\">%" PRIu32
			" of %" PRIu32 "</td></tr>"
			"<tr><td>incarnation</td><td id=\"d-incarnation\">%016"
			PRIx64 "</td></tr>\n",
			(long)st->pid, up, st->slots_used, st->capacity,
			st->clients, st->max_clients, st->incarnation);
	}
	fputs("</tbody></table>\n<div id=\"bar\"><label>Filter "
	      "<input type=\"search\" id=\"filter\" placeholder=\"part of a name\""
	      " value=\"", f);
	exp_html_escape(f, filter ? filter : "");
	fputs("\"></label> <label><input type=\"checkbox\" id=\"pendingonly\">"
	      " pending only</label> <span id=\"count\" class=\"note\"></span>"
	      " <span id=\"updated\" class=\"note\"></span></div>\n", f);
	fputs("<table id=\"slots\"><thead><tr>"
	      "<th data-key=\"name\">Name</th><th data-key=\"state\">State</th>"
	      "<th data-key=\"errno\">Errno</th><th data-key=\"counter\">Counter</th>"
	      "<th data-key=\"sets\">Sets</th><th data-key=\"last\">Last set</th>"
	      "<th data-key=\"pid\">Last pid</th><th data-key=\"holders\">Holders</th>"
	      "</tr></thead><tbody id=\"rows\">\n", f);
	exp_sort_for_cut(&snap->slots);
	for (size_t i = 0; i < snap->slots.n; i++) {
		const struct errseq_slot_info *e = &snap->slots.slot[i];

		if (filter && *filter && !strstr(e->name, filter))
			continue;
		matched++;
		if (shown < EXP_PAGE_ROWS) {
			page_row(f, e, now);
			shown++;
		}
	}
	fputs("</tbody></table>\n", f);
	if (shown < matched)
		fprintf(f, "<p class=\"note\">%zu of %zu matching slots shown "
			"(pending and recently set first): narrow the filter to "
			"see others.</p>\n", shown, matched);
	fprintf(f, "<p class=\"note\">errseq-exporter %s: <a href=\"metrics\">"
		"metrics</a>, <a href=\"api/v1/slots\">slots (JSON)</a>, "
		"<a href=\"api/v1/status\">status (JSON)</a></p>\n",
		PACKAGE_VERSION);
	fprintf(f, "<script nonce=\"%s\">", nonce);
	{
		const char *mark = strstr(page_script, "@LIMIT@");

		fwrite(page_script, 1, (size_t)(mark - page_script), f);
		fprintf(f, "%d", EXP_PAGE_ROWS);
		fputs(mark + strlen("@LIMIT@"), f);
	}
	fputs("</script></body></html>\n", f);
	return ferror(f) ? -EIO : 0;
}
