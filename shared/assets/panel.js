// The agent panel: what agent insight knows about one customer, beside the conversation.
// Its key comes from the URL's fragment (#key=bbp_...), which no server and no Referer
// ever sees; the customer from ?customer_id= / ?email= / ?user_id= (query or fragment),
// or from Chatwoot's appContext message when framed as a Chatwoot Dashboard App.
  var main = document.getElementById("panel");
  var base = location.pathname.replace(/\/panel\/?$/, "");
  var params = new URLSearchParams(location.search);
  new URLSearchParams(location.hash.replace(/^#/, "")).forEach(function (v, k) { params.set(k, v); });
  var key = params.get("key") || "";
  // The key stays in memory only: out of the address bar, out of history and copies.
  if (location.hash) { history.replaceState(null, "", location.pathname + location.search); }

  function show(nodes) {
    main.replaceChildren.apply(main, nodes);
    main.setAttribute("aria-busy", "false");
  }
  function plain(message, cls) {
    show([el("h1", { text: "Billing" }), el("p", { "class": cls || "muted", role: cls === "error" ? "alert" : "status", text: message })]);
  }
  function money(m) { return m && m.formatted ? m.formatted : ""; }
  function date(t) { return t ? String(t).slice(0, 10) : "—"; }
  function link(href, text) {
    return href ? el("a", { href: href, target: "_blank", rel: "noopener noreferrer", text: text }) : null;
  }
  function pill(text, tone) { return el("span", { "class": "pill" + (tone ? " " + tone : ""), text: text }); }
  function section(title, nodes) { return el("section", {}, [el("h2", { text: title })].concat(nodes)); }
  function table(head, rows) {
    return el("table", {}, [el("thead", {}, [el("tr", {}, head.map(function (h) { return el("th", { scope: "col", text: h }); }))]),
      el("tbody", {}, rows.map(function (r) { return el("tr", {}, r.map(function (c) { return el("td", {}, [c]); })); }))]);
  }

  function ask(path, init) {
    init = init || {};
    init.headers = Object.assign({ Authorization: "Bearer " + key }, init.headers || {});
    init.referrerPolicy = "no-referrer";
    init.credentials = "omit";
    return fetch(base + path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) { return { status: r.status, body: body }; });
    });
  }

  function load(lookup) {
    main.setAttribute("aria-busy", "true");
    ask("/insight?" + new URLSearchParams(lookup).toString()).then(function (r) {
      if (r.status === 200) { return render(r.body); }
      var err = (r.body && r.body.error) || {};
      if (r.status === 401 || r.status === 403) { return plain("This panel's key was not accepted. Ask an administrator for the current panel link.", "error"); }
      if (err.code === "ambiguous_customer") { return candidates(err); }
      if (err.code === "customer_not_found") { return plain("No billing account found for this contact."); }
      plain(err.message || "Billing could not be loaded right now.", "error");
    }, function () { plain("Billing could not be reached.", "error"); });
  }

  function candidates(err) {
    var list = err.candidates || [];
    show([el("h1", { text: "Billing" }),
      el("p", { text: "Several customers share this email. Pick one:" }),
      el("ul", {}, list.map(function (c) {
        var b = el("button", { "class": "link", type: "button", text: (c.name || c.email || c.id) + " (" + c.id + ")" });
        b.addEventListener("click", function () { load({ customer_id: c.id }); });
        return el("li", {}, [b]);
      }))]);
  }

  function render(d) {
    var c = d.customer || {};
    var subs = d.subscriptions || [];
    var nodes = [el("h1", { text: c.name || c.email || c.id }),
      el("p", { "class": "muted", text: [c.email, c.id].filter(Boolean).join(" · ") }),
      el("p", { "class": "summary", text: d.summary || "" })];
    nodes.push(section("Subscription", subs.length ? subs.map(function (s) {
      var tone = s.status === "active" || s.status === "trialing" ? "good" : (s.status === "past_due" || s.status === "unpaid" ? "bad" : "");
      var price = s.amount ? "(" + money(s.amount) + (s.interval ? "/" + s.interval : "") + ") " : "";
      return el("p", {}, [el("strong", { text: (s.plan && s.plan.name) || "Plan" }), " ", price, pill(s.status || "", tone),
        s.cancels_at ? " cancels " + date(s.cancels_at) : ""]);
    }) : [el("p", { "class": "muted", text: "No subscription." })]));
    nodes.push(el("p", {}, ["Next billing date: ", el("strong", { text: date(d.next_billing_date) })]));
    var card = d.payment_method;
    nodes.push(section("Card", [el("p", { text: card ? card.brand + " ending " + card.last4 + ", expires " + card.exp_month + "/" + card.exp_year : "No card on file." })]));
    var bal = [];
    if (d.credit && d.credit.amount) { bal.push(el("p", { text: "Credit: " + money(d.credit) })); }
    if (d.owed_on_balance && d.owed_on_balance.amount) { bal.push(el("p", { "class": "error", text: "Owed on balance: " + money(d.owed_on_balance) })); }
    if (bal.length) { nodes.push(section("Balance", bal)); }
    var rec = d.open_recoveries || [];
    if (rec.length) {
      nodes.push(section("Open recoveries", rec.map(function (r) {
        return el("p", {}, [pill("recovering", "bad"), " " + money(r.amount_due) + " failed" + (r.decline ? " (" + r.decline + ")" : "") +
          (r.opened_at ? " since " + date(r.opened_at) : ""), " ", link(r.hosted_invoice_url, "invoice")]);
      })));
    }
    var waiting = d.pending_approvals || [];
    if (waiting.length) {
      nodes.push(section("Waiting for approval", waiting.map(function (a) {
        var said = el("p", { "class": "muted", role: "status" });
        var note = el("input", { type: "text", maxlength: "500", "aria-label": "Note (optional)", placeholder: "Note (optional)" });
        function decide(decision) {
          return function () {
            yes.disabled = no.disabled = true;
            ask("/approvals/" + encodeURIComponent(a.id), { method: "POST", headers: { "Content-Type": "application/json" },
              body: JSON.stringify(note.value ? { decision: decision, note: note.value } : { decision: decision }) })
              .then(function (r) {
                said.textContent = r.status === 200 ? (r.body.summary || "Done.") : ((r.body.error && r.body.error.message) || "That did not go through.");
                said.setAttribute("role", r.status === 200 ? "status" : "alert");
                said.focus();
              });
          };
        }
        var yes = el("button", { type: "button", text: "Approve" });
        var no = el("button", { type: "button", "class": "secondary", text: "Deny" });
        yes.addEventListener("click", decide("approve"));
        no.addEventListener("click", decide("deny"));
        said.setAttribute("tabindex", "-1");
        return el("div", { "class": "approval", role: "group", "aria-label": "Approval: " + a.tool }, [
          el("p", {}, [el("strong", { text: a.tool.replace(/_/g, " ") }), " — " + a.summary]),
          el("p", { "class": "muted", text: (a.bound && (a.bound.over || a.bound.reason)) + " · asked " + date(a.asked_at) + " · expires " + date(a.expires_at) }),
          note, el("p", {}, [yes, " ", no]), said]);
      })));
    }
    var inv = d.invoices || [];
    nodes.push(section("Invoices", inv.length ? [table(["Invoice", "Amount", "Status", "Date", ""], inv.map(function (i) {
      return [i.number || i.id, money(i.total), i.status || "", date(i.created),
        el("span", {}, [link(i.invoice_pdf, "PDF"), i.invoice_pdf && i.hosted_invoice_url ? " · " : "", link(i.hosted_invoice_url, "Open")])];
    }))] : [el("p", { "class": "muted", text: "No invoices." })]));
    var pays = d.recent_payments || [];
    nodes.push(section("Recent payments", pays.length ? [table(["Amount", "Status", "Date", "Card"], pays.map(function (p) {
      return [money(p.amount), p.status || "", date(p.created), p.card || ""];
    }))] : [el("p", { "class": "muted", text: "No payments." })]));
    var acts = d.recent_actions || [];
    nodes.push(section("The bot's recent actions", acts.length ? [el("ul", {}, acts.map(function (a) {
      return el("li", {}, [a.write ? el("strong", { text: a.tool }) : a.tool, " — " + (a.outcome || a.decision || "") + " " + date(a.time)]);
    }))] : [el("p", { "class": "muted", text: "Nothing yet." })]));
    var portal = el("button", { type: "button", text: "Open Billing Portal for this customer" });
    var said = el("p", { "class": "muted", role: "status" });
    portal.addEventListener("click", function () {
      portal.disabled = true;
      ask("/portal_link", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ customer_id: c.id }) })
        .then(function (r) {
          portal.disabled = false;
          if (r.status === 200 && r.body.url) { said.replaceChildren(link(r.body.url, "Billing Portal link (opens once, expires soon)")); }
          else { said.textContent = (r.body.error && r.body.error.message) || "No portal link right now."; }
        });
    });
    nodes.push(section("Actions", [portal, said]));
    show(nodes);
  }

  function fromChatwoot(event) {
    var data = event.data;
    if (typeof data === "string") { try { data = JSON.parse(data); } catch (e) { return; } }
    if (!data || data.event !== "appContext" || !data.data) { return; }
    var contact = data.data.contact || {};
    var attrs = contact.custom_attributes || {};
    if (attrs.stripe_customer_id) { return load({ customer_id: attrs.stripe_customer_id }); }
    if (contact.identifier) { return load({ user_id: contact.identifier }); }
    if (contact.email) { return load({ email: contact.email }); }
    plain("This contact has no email or id to look up.");
  }

  // A helpdesk that points the frame at another contact by changing only the fragment
  // gets a fresh panel (a fragment change alone does not reload a page).
  window.addEventListener("hashchange", function () { location.reload(); });
  if (!key) { return plain("This panel needs its key: open it with the panel link your administrator gave you.", "error"); }
  window.addEventListener("message", fromChatwoot);
  var lookup = ["customer_id", "email", "user_id"].filter(function (k) { return params.get(k); });
  if (lookup.length) {
    var q = {}; q[lookup[0]] = params.get(lookup[0]);
    load(q);
  } else if (window.parent !== window) {
    plain("Waiting for the conversation's contact…");
    window.parent.postMessage("chatwoot-dashboard-app:fetch-info", "*");
  } else {
    plain("Open this panel with ?customer_id=, ?email= or ?user_id= (or inside your helpdesk).");
  }
