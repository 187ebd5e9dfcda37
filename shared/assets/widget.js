/* The billing widget: one script, no framework, no third-party request.
 *
 *   <script src="https://<api>/v1/{tenant}/widget.js" defer></script>
 *   <div id="billing-widget"></div>
 *   BillingWidget.identify(token)   // the visitor token your backend minted
 *
 * It calls the tools straight from the page (the tenant's allowed_origins grant CORS) and
 * shows each answer as a card a person reads. A write shows its preview with Confirm and
 * Cancel: only a click confirms. BillingWidget.render(tool, envelope, element) is the same
 * renderer for any chat UI that already has a tool answer. */
  var script = document.currentScript;
  var base = script ? script.src.replace(/\/widget\.js(\?.*)?$/, "") : "";
  var token = null;
  var root = null;
  var busy = false;

  var STYLE = ".bw{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1f36;border:1px solid #e3e8ee;border-radius:8px;padding:12px;max-width:520px}" +
    ".bw h2{font-size:15px;margin:0 0 8px}.bw h3{font-size:14px;margin:8px 0 4px}.bw p{margin:4px 0}.bw .muted{color:#5c6479}" +
    ".bw .nav{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}.bw button{font:inherit;padding:5px 10px;border:1px solid #4b53c9;border-radius:5px;background:#fff;color:#4b53c9;cursor:pointer}" +
    ".bw button.primary{background:#4b53c9;color:#fff}.bw button:focus-visible,.bw a:focus-visible{outline:2px solid #4b53c9;outline-offset:2px}" +
    ".bw .card{border-top:1px solid #e3e8ee;padding-top:8px;margin-top:8px}.bw table{width:100%;border-collapse:collapse}" +
    ".bw td,.bw th{text-align:left;padding:3px 6px 3px 0;border-bottom:1px solid #eef0f4}.bw th{font-size:12px;color:#5c6479}" +
    ".bw .preview{background:#fff8e1;border:1px solid #f0d58c;border-radius:6px;padding:8px;margin:6px 0}.bw .error{color:#b3261e}" +
    ".bw .actions{display:flex;gap:8px;margin-top:8px}";

  var NAV = [
    ["get_subscription_status", "Subscription"],
    ["get_invoice_history", "Invoices"],
    ["get_payment_history", "Payments"],
    ["get_billing_info", "Card"],
    ["get_upcoming_invoice", "Next invoice"],
    ["get_available_plans", "Plans"],
    ["get_billing_portal_link", "Manage billing"],
    ["cancel_subscription", "Cancel subscription"]
  ];

  function money(m) { return m && m.formatted ? m.formatted : ""; }
  function day(t) { return t ? String(t).slice(0, 10) : ""; }
  function link(href, text) {
    return href ? el("a", { href: href, target: "_blank", rel: "noopener noreferrer", text: text }) : null;
  }
  function table(head, rows) {
    return el("table", {}, [el("thead", {}, [el("tr", {}, head.map(function (h) { return el("th", { scope: "col", text: h }); }))]),
      el("tbody", {}, rows.map(function (r) { return el("tr", {}, r.map(function (c) { return el("td", {}, [c]); })); }))]);
  }

  function call(tool, args) {
    if (!token) { return Promise.reject(new Error("BillingWidget.identify(token) first")); }
    return fetch(base + "/tools/" + tool, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
      body: JSON.stringify(args || {}),
      credentials: "omit",
      referrerPolicy: "no-referrer"
    }).then(function (r) { return r.json(); });
  }

  // One card per tool answer; any tool without a card of its own shows its summary.
  var CARDS = {
    get_subscription_status: function (d) {
      var subs = d.subscriptions || [];
      if (!subs.length) { return []; }
      return subs.map(function (s) {
        return el("div", {}, [
          el("h3", { text: (s.plan && s.plan.name) || "Your plan" }),
          el("p", { text: money(s.amount) + (s.interval ? " / " + s.interval : "") + " · " + s.status }),
          s.next_payment_date ? el("p", { text: "Next payment: " + day(s.next_payment_date) }) : null,
          s.cancels_at ? el("p", { text: "Ends on " + day(s.cancels_at) }) : null
        ]);
      });
    },
    get_invoice_history: function (d) {
      var inv = d.invoices || [];
      return inv.length ? [table(["Invoice", "Amount", "Status", "Date", ""], inv.map(function (i) {
        return [i.number || i.id, money(i.total), i.status || "", day(i.created),
          el("span", {}, [link(i.invoice_pdf, "PDF"), i.invoice_pdf && i.hosted_invoice_url ? " · " : "", link(i.hosted_invoice_url, "View")])];
      }))] : [];
    },
    get_payment_history: function (d) {
      var p = d.payments || [];
      return p.length ? [table(["Amount", "Status", "Date", "Receipt"], p.map(function (x) {
        return [money(x.amount), x.status || "", day(x.created), link(x.receipt_url, "Receipt") || ""];
      }))] : [];
    },
    get_billing_info: function (d) {
      var c = d.payment_method;
      return [el("p", { text: c ? c.brand + " ending " + c.last4 + ", expires " + c.exp_month + "/" + c.exp_year : "No card on file." }),
        d.email ? el("p", { "class": "muted", text: "Billing email: " + d.email }) : null];
    },
    get_upcoming_invoice: function (d) {
      var u = d.upcoming_invoice;
      return u ? [el("p", { text: money(u.amount_due) + " on " + day(u.date) })] : [];
    },
    get_available_plans: function (d) {
      return (d.plans || []).map(function (p) {
        var row = el("p", {}, [el("strong", { text: p.name || p.price_id }), " " + money(p.amount) + (p.interval ? " / " + p.interval : "") + " "]);
        if (p.current) { row.appendChild(el("span", { "class": "muted", text: "(your plan)" })); }
        else {
          var b = el("button", { type: "button", text: "Switch to " + (p.name || "this plan") });
          b.addEventListener("click", function () { run("change_plan", { price_id: p.price_id }); });
          row.appendChild(b);
        }
        return row;
      });
    },
    get_billing_portal_link: function (d) {
      return d.url ? [el("p", {}, [link(d.url, "Open your billing portal")])] : [];
    }
  };

  /** Renders a tool's answer (the contract's envelope) into `element`. */
  function render(tool, envelope, element) {
    var nodes = [];
    var title = el("h3", { tabindex: "-1", text: (NAV.filter(function (n) { return n[0] === tool; })[0] || [tool, tool])[1] });
    nodes.push(title);
    if (!envelope || envelope.ok === false) {
      var err = (envelope && envelope.error) || {};
      nodes.push(el("p", { "class": "error", role: "alert", text: err.message || "That didn't work; please try again." }));
      if (err.escalate) {
        var human = el("button", { type: "button", "class": "primary", text: "Talk to a person" });
        human.addEventListener("click", function () {
          (element.ownerDocument || document).dispatchEvent(new CustomEvent("billingwidget:escalate", { detail: { tool: tool, error: err } }));
        });
        nodes.push(el("div", { "class": "actions" }, [human]));
      }
    } else if (envelope.status === "confirmation_required") {
      var box = el("div", { "class": "preview", role: "group", "aria-label": "Please confirm" }, [el("p", { text: envelope.summary })]);
      var yes = el("button", { type: "button", "class": "primary", text: "Confirm" });
      var no = el("button", { type: "button", text: "Cancel" });
      yes.addEventListener("click", function () { run(tool, { confirm: envelope.confirmation.token }); });
      no.addEventListener("click", function () {
        element.replaceChildren(el("h3", { tabindex: "-1", text: "Nothing changed" }), el("p", { text: "Okay, nothing was changed." }));
        element.firstChild.focus();
      });
      box.appendChild(el("div", { "class": "actions" }, [yes, no]));
      nodes.push(box);
    } else {
      nodes.push(el("p", { text: envelope.summary || "" }));
      var card = CARDS[tool];
      if (card && envelope.status === "done") { nodes = nodes.concat(card(envelope.data || {})); }
    }
    element.replaceChildren.apply(element, nodes.filter(Boolean));
    return title;
  }

  function run(tool, args) {
    if (!root || busy) { return; }
    busy = true;
    var out = root.querySelector(".card");
    out.setAttribute("aria-busy", "true");
    call(tool, args).then(function (envelope) {
      busy = false;
      out.setAttribute("aria-busy", "false");
      render(tool, envelope, out).focus();
    }, function () {
      busy = false;
      out.setAttribute("aria-busy", "false");
      render(tool, { ok: false, error: { message: "Billing could not be reached." } }, out).focus();
    });
  }

  function mount(element) {
    root = element || document.getElementById("billing-widget") || document.querySelector("[data-billing-widget]");
    if (!root) { root = el("div", { id: "billing-widget" }); document.body.appendChild(root); }
    if (!document.getElementById("billing-widget-style")) {
      document.head.appendChild(el("style", { id: "billing-widget-style", text: STYLE }));
    }
    root.classList.add("bw");
    var nav = el("div", { "class": "nav", role: "toolbar", "aria-label": "Billing" }, NAV.map(function (n) {
      var b = el("button", { type: "button", "data-tool": n[0], text: n[1] });
      b.addEventListener("click", function () { run(n[0], {}); });
      return b;
    }));
    root.replaceChildren(el("h2", { text: "Billing" }), nav, el("div", { "class": "card", "aria-live": "polite" }));
    return root;
  }

  window.BillingWidget = {
    /** Signs the visitor in with the token your backend minted, and shows their plan. */
    identify: function (visitorToken, element) {
      token = visitorToken;
      mount(element);
      run("get_subscription_status", {});
    },
    mount: mount,
    render: render,
    call: call
  };
  if (window.BillingWidgetReady) { window.BillingWidgetReady(window.BillingWidget); }
