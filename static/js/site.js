/* kamen 卡盟 — small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  var body = document.body;
  function text(name, fallback) {
    return (body && body.getAttribute("data-i18n-" + name)) || fallback;
  }

  /* ---------------------------------------------------------------- money (display only) */
  // Prices travel as "12.30" strings and are added up in fen, so no float rounding shows.
  function toFen(value) {
    var parts = String(value).trim().split(".");
    var fen = parseInt(parts[0] || "0", 10) * 100;
    var frac = ((parts[1] || "") + "00").slice(0, 2);
    return fen + parseInt(frac, 10);
  }
  function formatYuan(fen) {
    var whole = Math.floor(fen / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var cents = String(fen % 100);
    return "¥" + whole + "." + (cents.length < 2 ? "0" + cents : cents);
  }

  /* ---------------------------------------------------------------- product page: spec, quantity, total */
  function setupBuyForm(form) {
    var qty = form.querySelector("input[name=quantity]");
    var unit = form.querySelector("[data-unit-price]");
    var stockText = form.querySelector("[data-stock-text]");
    var total = form.querySelector("[data-total]");
    var memberPrice = form.querySelector("[data-member-price]");
    var button = form.querySelector("[data-buy-button]");
    var payChoices = form.querySelectorAll("input[name=payment_method]").length;
    var productMax = parseInt(qty.getAttribute("max"), 10) || 1;
    var productMin = parseInt(qty.getAttribute("min"), 10) || 1;

    function selected() {
      return form.querySelector("input[name=sku]:checked");
    }
    function limitFor(sku) {
      // The server says how many one order of this spec may take (stock, or the product's limit).
      if (!sku) return productMax;
      return Math.max(productMin, parseInt(sku.getAttribute("data-max"), 10) || 0);
    }
    function clamp() {
      var max = limitFor(selected());
      var n = parseInt(qty.value, 10);
      if (isNaN(n) || n < productMin) n = productMin;
      if (n > max) n = max;
      qty.value = n;
      qty.setAttribute("max", max);
      return n;
    }
    function unitFen(sku, n) {
      // The lowest wholesale price that n pieces reach, else retail (as catalog.pricing decides).
      var fen = toFen(sku.getAttribute("data-price"));
      (sku.getAttribute("data-tiers") || "").split(",").forEach(function (tier) {
        var parts = tier.split(":");
        if (parts.length === 2 && n >= parseInt(parts[0], 10)) fen = Math.min(fen, toFen(parts[1]));
      });
      return fen;
    }
    function showRetail(sku, price) {
      // The retail price struck through beside a lower member or wholesale price.
      if (!memberPrice) return;
      var retail = toFen(sku.getAttribute("data-retail"));
      memberPrice.hidden = price >= retail;
      memberPrice.querySelector("[data-retail-price]").textContent = formatYuan(retail);
    }
    function showTiers(sku) {
      Array.prototype.forEach.call(form.querySelectorAll("[data-tiers-for]"), function (row) {
        row.hidden = !sku || row.getAttribute("data-tiers-for") !== sku.value;
      });
    }
    function refresh() {
      var sku = selected();
      showTiers(sku);
      var n = clamp();
      if (!sku || sku.disabled) {
        if (button) {
          button.disabled = true;
          button.textContent = button.getAttribute("data-label-soldout");
        }
        return;
      }
      var price = unitFen(sku, n);
      if (unit) unit.textContent = formatYuan(price);
      if (total) total.textContent = formatYuan(price * n);
      showRetail(sku, price);
      if (stockText) {
        var stock = parseInt(sku.getAttribute("data-stock"), 10) || 0;
        if (sku.getAttribute("data-manual") === "1") stockText.textContent = form.getAttribute("data-text-manual");
        else if (stock > 0) stockText.textContent = form.getAttribute("data-text-in-stock").replace("__N__", stock);
        else stockText.textContent = form.getAttribute("data-text-soldout");
      }
      if (button) {
        button.disabled = !payChoices;
        button.textContent = button.getAttribute("data-label-buy");
      }
    }

    var preview = setupPricePreview(form, selected, qty, total);

    form.addEventListener("change", function (event) {
      if (event.target.name === "sku" || event.target.name === "quantity") {
        refresh();
        preview.soon();
      }
    });
    qty.addEventListener("input", function () {
      var n = parseInt(qty.value, 10);
      var sku = selected();
      if (!isNaN(n) && sku && total) {
        var price = unitFen(sku, n);
        if (unit) unit.textContent = formatYuan(price);
        total.textContent = formatYuan(price * Math.max(n, 0));
        showRetail(sku, price);
        preview.soon();
      }
    });
    Array.prototype.forEach.call(form.querySelectorAll("[data-step]"), function (step) {
      step.addEventListener("click", function () {
        var n = parseInt(qty.value, 10) || productMin;
        qty.value = n + parseInt(step.getAttribute("data-step"), 10);
        refresh();
        preview.soon();
      });
    });
    form.addEventListener("submit", function (event) {
      var sku = selected();
      if (!sku || sku.disabled) {
        event.preventDefault();
        return;
      }
      clamp();
      lockSubmit(form);
    });
    refresh();
    preview.now();
  }

  /* ---------------------------------------------------------------- product page: the server's price */
  // The total above is worked out here from the spec's prices; with a coupon, or for a member with
  // coupons of their own, the server prices the order (catalog.pricing) and its answer replaces it.
  function setupPricePreview(form, selected, qty, total) {
    var box = form.querySelector("[data-coupon]");
    var idle = { soon: function () {}, now: function () {} };
    if (!box || !window.fetch) return idle;
    var code = box.querySelector("input[name=coupon_code]");
    var grant = box.querySelector("[data-coupon-grant]");
    var list = box.querySelector("[data-coupon-list]");
    var note = box.querySelector("[data-coupon-note]");
    var lines = form.querySelector("[data-price-lines]");
    var member = box.hasAttribute("data-member");
    var timer = null;
    var asked = 0;

    function say(name, value) {
      return box.getAttribute("data-text-" + name).replace(/__[A-Z]+__/, value);
    }
    function element(tag, className, content) {
      var node = document.createElement(tag);
      if (className) node.className = className;
      if (content) node.textContent = content;
      return node;
    }
    function showLines(data) {
      while (lines.firstChild) lines.removeChild(lines.firstChild);
      var shown = data.lines.length ? [[box.getAttribute("data-text-goods"), data.goods]].concat(data.lines) : [];
      shown.forEach(function (line, index) {
        var item = element("li");
        item.appendChild(element("span", "", line[0]));
        item.appendChild(element("span", index ? "price-off" : "", line[1]));
        lines.appendChild(item);
      });
      lines.hidden = !data.lines.length;
    }
    function couponOption(value, name, detail, saving, disabled) {
      var label = element("label", "coupon-opt");
      var radio = element("input");
      radio.type = "radio";
      radio.name = "coupon_pick";
      radio.value = value;
      radio.disabled = disabled;
      radio.checked = !disabled && grant.value === value;
      var card = element("span", "coupon-box");
      card.appendChild(element("span", "coupon-name", name));
      card.appendChild(element("span", "coupon-saving", saving));
      if (detail) card.appendChild(element("span", "coupon-detail", detail));
      label.appendChild(radio);
      label.appendChild(card);
      return label;
    }
    function showCoupons(data) {
      while (list.firstChild) list.removeChild(list.firstChild);
      data.coupons.forEach(function (coupon) {
        var detail = coupon.refusal || (coupon.until ? say("until", coupon.until) : "");
        var saving = coupon.saving ? say("saves", coupon.saving) : "";
        list.appendChild(couponOption(String(coupon.grant), coupon.name, detail, saving, !coupon.saving));
      });
      if (data.coupons.length) list.appendChild(couponOption("", box.getAttribute("data-text-none"), "", "", false));
      list.hidden = !data.coupons.length;
    }
    function showNote(data) {
      note.hidden = !(data.coupon || data.coupon_error);
      note.textContent = data.coupon_error || say("applied", data.coupon);
      note.className = "coupon-note" + (data.coupon_error ? " is-refused" : "");
      Array.prototype.forEach.call(box.querySelectorAll("[data-coupon-error]"), function (old) {
        old.parentNode.removeChild(old);
      });
    }
    function ask() {
      var sku = selected();
      if (!sku || sku.disabled || !(member || code.value.trim() || grant.value)) return;
      var params = "sku=" + encodeURIComponent(sku.value) + "&quantity=" + encodeURIComponent(qty.value) +
        "&coupon_code=" + encodeURIComponent(code.value.trim()) + "&coupon_grant=" + encodeURIComponent(grant.value);
      var mine = ++asked;
      fetch(box.getAttribute("data-preview-url") + "?" + params, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data || mine !== asked) return;  // an older answer arriving late changes nothing
          if (total) total.textContent = data.total;
          showLines(data);
          showNote(data);
          if (member) showCoupons(data);
        })
        .catch(function () { /* the total worked out here stays; the server prices the order anyway */ });
    }
    function soon() {
      clearTimeout(timer);
      timer = setTimeout(ask, 250);
    }

    box.querySelector("[data-coupon-apply]").addEventListener("click", function () {
      grant.value = "";
      ask();
    });
    code.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {  // applies the code instead of placing the order
        event.preventDefault();
        grant.value = "";
        ask();
      }
    });
    list.addEventListener("change", function (event) {
      if (event.target.name !== "coupon_pick") return;
      grant.value = event.target.value;
      if (grant.value) code.value = "";
      ask();
    });
    return { soon: soon, now: ask };
  }

  /* ---------------------------------------------------------------- forms: one submit, confirm */
  function lockSubmit(form) {
    var button = form.querySelector("button[type=submit], button:not([type])");
    if (!button) return;
    // Disable after the browser has collected the form data, so the click still counts.
    setTimeout(function () {
      button.setAttribute("data-label-before", button.textContent);
      button.disabled = true;
      button.textContent = text("submitting", "…");
    }, 0);
  }
  window.addEventListener("pageshow", function (event) {
    // Coming back with the Back button: the page is restored with its buttons still locked.
    if (!event.persisted) return;
    Array.prototype.forEach.call(document.querySelectorAll("button[data-label-before]"), function (button) {
      button.disabled = false;
      button.textContent = button.getAttribute("data-label-before");
      button.removeAttribute("data-label-before");
    });
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute("data-once") || question) lockSubmit(form);
  });

  /* ---------------------------------------------------------------- copy to clipboard */
  function fallbackCopy(value) {
    var area = document.createElement("textarea");
    area.value = value;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "-1000px";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    area.setSelectionRange(0, value.length);
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (error) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }
  function copyText(value) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(value).then(
        function () { return true; },
        function () { return fallbackCopy(value); }
      );
    }
    return Promise.resolve(fallbackCopy(value));
  }
  function flash(button, ok) {
    if (!ok) {
      window.alert(text("copy-failed", "Copy failed"));
      return;
    }
    if (!button.hasAttribute("data-label")) button.setAttribute("data-label", button.textContent);
    button.textContent = text("copied", "Copied");
    button.classList.add("is-copied");
    clearTimeout(button._copyTimer);
    button._copyTimer = setTimeout(function () {
      button.textContent = button.getAttribute("data-label");
      button.classList.remove("is-copied");
    }, 1600);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-all], [data-copy-target]");
    if (!button) return;
    var value;
    if (button.hasAttribute("data-copy")) {
      value = button.getAttribute("data-copy");
    } else if (button.hasAttribute("data-copy-target")) {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      value = target ? target.textContent : "";
    } else {
      var scope = button.closest("[data-codes]") || document;
      value = Array.prototype.map.call(scope.querySelectorAll("[data-code-line]"), function (line) {
        return line.getAttribute("data-code-line");
      }).join("\n");
    }
    if (!value) return;
    copyText(value).then(function (ok) { flash(button, ok); });
  });

  /* ---------------------------------------------------------------- payment countdown */
  function setupCountdown(node) {
    var deadline = Date.parse(node.getAttribute("data-countdown"));
    if (isNaN(deadline)) return;
    function tick() {
      var left = Math.floor((deadline - Date.now()) / 1000);
      if (left <= 0) {
        node.textContent = text("expired", "Time is up");
        return;
      }
      var minutes = Math.floor(left / 60);
      var seconds = left % 60;
      node.textContent = (minutes < 10 ? "0" : "") + minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      setTimeout(tick, 1000 - (Date.now() % 1000));
    }
    tick();
  }

  /* ---------------------------------------------------------------- polling a status URL */
  // Asks `url` for JSON every `delay()` ms while the tab is visible; `handle(data)` returns true to stop.
  function pollJson(url, delay, handle) {
    function poll() {
      if (document.hidden) {
        setTimeout(poll, delay());
        return;
      }
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (data) {
          if (!handle(data)) setTimeout(poll, delay());
        })
        .catch(function () {
          setTimeout(poll, Math.max(delay(), 5000));
        });
    }
    setTimeout(poll, delay());
  }

  /* ---------------------------------------------------------------- order page: wait for payment and codes */
  function setupPolling(node) {
    var initial = node.getAttribute("data-status");
    // Right after payment the codes come within seconds; staff deliver by hand within minutes or hours.
    var every = parseInt(node.getAttribute("data-poll-every"), 10) || 2000;
    var started = Date.now();
    function delay() {
      var age = Date.now() - started;
      if (age < 60 * 1000 && every <= 2000) return 1000;  // the codes are seconds away
      if (age < 5 * 60 * 1000) return every;
      if (age < 30 * 60 * 1000) return Math.max(every, 10000);
      return Math.max(every, 30000);
    }
    pollJson(node.getAttribute("data-order-poll"), delay, function (data) {
      if (data.waiting && data.status === initial) return false;
      window.location.reload();
      return true;
    });
  }

  /* ---------------------------------------------------------------- payment page: move on once paid */
  function setupPaymentPolling(node) {
    var started = Date.now();
    // Every second while the shopper is likely paying, so the codes follow the payment closely.
    function delay() {
      var age = Date.now() - started;
      if (age < 2 * 60 * 1000) return 1000;
      return age < 10 * 60 * 1000 ? 3000 : 10000;
    }
    pollJson(node.getAttribute("data-payment-poll"), delay, function (data) {
      if (data.waiting) return false;
      var waiting = node.querySelector("[data-pay-status]");
      var done = node.querySelector("[data-pay-done]");
      if (data.state === "confirmed" && done) {
        if (waiting) waiting.hidden = true;
        done.hidden = false;
      }
      setTimeout(function () { window.location.assign(data.next); }, 300);
      return true;
    });
  }

  /* ---------------------------------------------------------------- one-tap amounts (wallet top-up) */
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-fill]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-fill"));
    if (!input) return;
    input.value = button.getAttribute("data-value");
    input.focus();
  });

  /* ---------------------------------------------------------------- a refused form: show why */
  // On a phone the form sits below the product picture, and a sticky buy bar covers the bottom of
  // the screen: bring the first reason into the upper half, and put the cursor in the field to fix.
  function revealFirstError() {
    var error = document.querySelector(".form-alert, .field-error");
    if (!error) return;
    var top = error.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight / 2) error.scrollIntoView({ block: "center" });
    var field = error.closest(".opt-field, .field");
    var input = field && field.querySelector("input:not([type=hidden]), select, textarea");
    if (input) input.focus({ preventScroll: true });
  }

  /* ---------------------------------------------------------------- withdrawal: Alipay fields */
  // The account and real name matter only for a payout to Alipay; into the wallet they are hidden.
  function setupWithdrawForm(form) {
    var alipayOnly = form.querySelector("[data-alipay-only]");
    if (!alipayOnly) return;
    function update() {
      var chosen = form.querySelector("input[name=method]:checked");
      alipayOnly.hidden = chosen !== null && chosen.value !== "alipay";
    }
    form.addEventListener("change", update);
    update();
  }

  /* ---------------------------------------------------------------- start */
  Array.prototype.forEach.call(document.querySelectorAll("[data-buy-form]"), setupBuyForm);
  Array.prototype.forEach.call(document.querySelectorAll("[data-countdown]"), setupCountdown);
  Array.prototype.forEach.call(document.querySelectorAll("[data-order-poll]"), setupPolling);
  Array.prototype.forEach.call(document.querySelectorAll("[data-payment-poll]"), setupPaymentPolling);
  Array.prototype.forEach.call(document.querySelectorAll("[data-withdraw-form]"), setupWithdrawForm);
  revealFirstError();
})();
