/* Statistiques: a detail page's chart, table, export link and view (loaded after app.js). Reads
   window.STATS_DATA (the entity's data.js) and window.STATS_CONFIG (labels, chart specs, built once per
   build). Text from data always goes through textContent, never innerHTML; the one innerHTML is the chart's
   controls, markup the build renders from its templates (no data in it). */
(function () {
  "use strict";

  var body = document.body;
  var el = window.STATS_PAGE.el;
  var intFormat = new Intl.NumberFormat("fr-FR");
  var ratioFormat = new Intl.NumberFormat("fr-FR", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var oneDecimal = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 1 });
  var NO_PROFILE_SHOWN = "Aucun profil affiché : activez un profil dans la légende pour voir sa série.";

  var DAY_MS = 86400000;

  function utc(iso) {
    var parts = iso.split("-");
    return Date.UTC(+parts[0], +parts[1] - 1, +parts[2]);
  }

  function nextBucket(iso, grouping) {
    var d = new Date(utc(iso));
    if (grouping === "day") { d.setUTCDate(d.getUTCDate() + 1); }
    else if (grouping === "week") { d.setUTCDate(d.getUTCDate() + 7); }
    else { d.setUTCMonth(d.getUTCMonth() + 1); }
    return d.getTime();
  }

  function Detail(config, data, indicatorId) {
    this.config = config;
    this.data = data;
    this.indicator = config.indicators.filter(function (i) { return i.id === indicatorId; })[0];
    this.profiles = config.profiles;
    this.labels = {};
    var labels = this.labels;
    this.profiles.forEach(function (p) { labels[p.code] = p.label; });
    var defaults = config.defaults;
    this.state = { grouping: defaults.grouping, period: defaults.period, profile: defaults.profile, hidden: [],
      window: defaults.window, windowEnd: null };
    this.bucketCache = {};
    this.holidayBuckets = {};
    this.view = null;
  }

  Detail.prototype.dayWords = function (iso) {
    var d = new Date(utc(iso));
    var day = d.getUTCDate();
    return (day === 1 ? "1er" : String(day)) + " " + this.config.months[d.getUTCMonth()] + " " + d.getUTCFullYear();
  };

  Detail.prototype.bucketWords = function (iso, grouping) {
    var d = new Date(utc(iso));
    if (grouping === "month") { return this.config.months[d.getUTCMonth()] + " " + d.getUTCFullYear(); }
    if (grouping === "week") { return "semaine du " + this.dayWords(iso); }
    return this.config.weekdays[(d.getUTCDay() + 6) % 7].toLowerCase() + " " + this.dayWords(iso);
  };

  Detail.prototype.number = function (value) {
    if (value === null || value === undefined) { return "—"; }
    return this.indicator.ratio ? ratioFormat.format(value) : intFormat.format(value);
  };

  /* "octobre 2025 — 115 connexions, dont 65 Enseignants, 30 Élèves, …" */
  Detail.prototype.detailText = function (title, byProfile, unit) {
    var self = this;
    var rest = this.profiles.slice(1).map(function (p) {
      return self.number(byProfile[p.code]) + " " + p.label;
    });
    if (this.indicator.ratio) {
      return title + " — " + this.number(byProfile.all) + " " + unit + " (Tous) ; " + this.profiles.slice(1)
        .map(function (p) { return p.label + " : " + self.number(byProfile[p.code]); }).join(", ");
    }
    return title + " — " + this.number(byProfile.all) + " " + unit + ", dont " + rest.join(", ");
  };

  Detail.prototype.periodWords = function (period) {
    var span = this.data.periods[period];
    return this.config.periodWords[period] + " (du " + this.dayWords(span[0]) + " au " + this.dayWords(span[1]) + ")";
  };

  /* The 12 months' buckets of a grouping, labelled as the CSV files label them (a day, its week's Monday,
     its month's 1st), and for each day of the period the position of its bucket. */
  Detail.prototype.buckets = function (grouping) {
    if (this.bucketCache[grouping]) { return this.bucketCache[grouping]; }
    var span = this.data.periods[this.config.defaults.period];
    var labels = [];
    var dayBucket = [];
    for (var t = utc(span[0]); t <= utc(span[1]); t += DAY_MS) {
      var d = new Date(t);
      var label = grouping === "day" ? t
        : grouping === "week" ? t - ((d.getUTCDay() + 6) % 7) * DAY_MS
        : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
      if (!labels.length || labels[labels.length - 1] !== label) { labels.push(label); }
      dayBucket.push(labels.length - 1);
    }
    var inPeriod = labels.map(function () { return 0; });
    dayBucket.forEach(function (b) { inPeriod[b] += 1; });
    var isoLabels = labels.map(function (ms) { return new Date(ms).toISOString().slice(0, 10); });
    this.bucketCache[grouping] = {
      labels: isoLabels,
      dayBucket: dayBucket,
      /* the period's first and last weeks or months may hold only some of their days: they are marked,
         or they would read as drops */
      partial: isoLabels.map(function (iso, b) {
        var length = Math.round((nextBucket(iso, grouping) - utc(iso)) / DAY_MS);
        return inPeriod[b] < length ? { days: inPeriod[b], of: length } : null;
      })
    };
    return this.bucketCache[grouping];
  };

  /* School holidays (SPEC 2.6) -------------------------------------------------------------------- */
  /* The holidays of the entity's zone that overlap the 12 months, each clipped to them, in date order: what
     summary.json lists. STATS_CONFIG holds every zone's calendar (names as indices); data.js the zone. */
  Detail.prototype.holidays = function () {
    if (this.holidayCache) { return this.holidayCache; }
    var calendar = this.config.holidays;
    var span = this.data.periods[this.config.defaults.period];
    this.holidayCache = (calendar.zones[this.data.zone] || []).filter(function (h) {
      return h[1] <= span[1] && h[2] >= span[0];
    }).map(function (h) {
      return { name: calendar.names[h[0]], from: h[1] < span[0] ? span[0] : h[1], to: h[2] > span[1] ? span[1] : h[2] };
    });
    return this.holidayCache;
  };

  Detail.prototype.marksHolidays = function (grouping) {
    return this.indicator.kind === "series" && this.config.holidays.groupings.indexOf(grouping) >= 0;
  };

  /* Per bucket of the grouping: the holidays it holds, with how many of their days ({name, days}); computed
     once per grouping, for the chart and the table */
  Detail.prototype.bucketHolidays = function (grouping) {
    if (this.holidayBuckets[grouping]) { return this.holidayBuckets[grouping]; }
    var buckets = this.buckets(grouping);
    var start = utc(this.data.periods[this.config.defaults.period][0]);
    var out = buckets.labels.map(function () { return []; });
    this.holidays().forEach(function (h) {
      for (var t = utc(h.from); t <= utc(h.to); t += DAY_MS) {
        var list = out[buckets.dayBucket[Math.round((t - start) / DAY_MS)]];
        var last = list[list.length - 1];
        if (last && last.name === h.name) { last.days += 1; } else { list.push({ name: h.name, days: 1 }); }
      }
    });
    this.holidayBuckets[grouping] = out;
    return out;
  };

  /* "Vacances de Noël", and in a week that holds only some of its days, "Vacances de Noël (2 jours)" */
  Detail.prototype.holidayWords = function (held, grouping) {
    return held.map(function (h) {
      return h.name + (grouping === "week" && h.days < 7 ? " (" + h.days + " jour" + (h.days > 1 ? "s" : "") + ")" : "");
    }).join(", ");
  };

  Detail.prototype.holidayLegend = function () {
    return this.config.holidays.legend.replace("{zone}", this.data.zone);
  };

  /* The bands: a bar chart's cover its holidays' days; a line chart by day centres them on the days' points */
  Detail.prototype.holidayBands = function (grouping, labels, single) {
    var self = this;
    var first = utc(labels[0]);
    var last = single ? nextBucket(labels[labels.length - 1], grouping) : utc(labels[labels.length - 1]);
    var shift = !single && grouping === "day" ? DAY_MS / 2 : 0;
    return this.holidays().map(function (h) {
      return { t: Math.max(first, utc(h.from) - shift), t2: Math.min(last, utc(h.to) + DAY_MS - shift),
        d: h.name + " : du " + self.dayWords(h.from) + " au " + self.dayWords(h.to) + " (" + self.holidayLegend() + ")" };
    }).filter(function (band) { return band.t2 > band.t; });
  };

  Detail.prototype.showHolidayKey = function (grouping) {
    var key = document.getElementById("holiday-key");
    if (!key) { return; }
    key.hidden = !this.marksHolidays(grouping);
    document.getElementById("holiday-key-text").textContent = this.holidayLegend();
  };

  Detail.prototype.partialWords = function (partial, grouping) {
    return (grouping === "week" ? "semaine partielle" : "mois partiel") + " : " + partial.days + " jour" +
      (partial.days > 1 ? "s" : "") + " sur " + partial.of;
  };

  /* An indicator's values by profile for a grouping, from data.js: stored as they are (distinct visitors
     by day, week and month), summed from days (counts of events), or divided (RATIO_OF, in hundredths
     rounded half up with integers, as the CSV writer does). */
  Detail.prototype.seriesValues = function (id, grouping) {
    var indicator = this.config.indicators.filter(function (i) { return i.id === id; })[0];
    var out = {};
    if (indicator.ratio) {
      var counts = this.seriesValues(this.config.ratioOf[0], grouping);
      var visitors = this.seriesValues(this.config.ratioOf[1], grouping);
      this.profiles.forEach(function (p) {
        out[p.code] = counts[p.code].map(function (c, i) {
          var v = visitors[p.code][i];
          return v > 0 ? Math.floor((200 * c + v) / (2 * v)) / 100 : null;
        });
      });
      return out;
    }
    var stored = this.data.series[id];
    if (stored[grouping]) { return this.storedValues(stored[grouping].v, grouping); }
    var buckets = this.buckets(grouping);
    var days = this.storedValues(stored.day.v, "day");
    this.profiles.forEach(function (p) {
      var sums = buckets.labels.map(function () { return 0; });
      days[p.code].forEach(function (n, day) { sums[buckets.dayBucket[day]] += n; });
      out[p.code] = sums;
    });
    return out;
  };

  /* data.js writes a profile whose values are all zero as the number 0: its bucket's zeros again */
  Detail.prototype.storedValues = function (values, grouping) {
    var length = this.buckets(grouping).labels.length;
    var out = {};
    this.profiles.forEach(function (p) {
      var v = values[p.code];
      out[p.code] = typeof v === "number" ? new Array(length).fill(v) : v;
    });
    return out;
  };

  Detail.prototype.seriesFigures = function () {
    var grouping = this.state.grouping;
    var buckets = this.buckets(grouping);
    return { buckets: buckets.labels, partial: buckets.partial,
      values: this.seriesValues(this.indicator.id, grouping) };
  };

  Detail.prototype.slotNames = function () {
    return this.indicator.kind === "hours" ? this.config.hourSlots : this.config.weekdays;
  };

  Detail.prototype.slotFigures = function () {
    return this.data[this.indicator.kind][this.state.period];
  };

  Detail.prototype.visibleProfiles = function () {
    var hidden = this.state.hidden;
    var profiles = this.indicator.kind === "series" ? this.profiles : this.profiles.slice(1);
    return profiles.filter(function (p) { return hidden.indexOf(p.code) < 0; });
  };

  /* The chart's rows, its spec key and its description -------------------------------------------- */
  Detail.prototype.seriesChart = function () {
    var self = this;
    var g = this.state.grouping;
    var figures = this.seriesFigures();
    var single = this.indicator.oneProfile;
    var shown = single ? this.profiles.filter(function (p) { return p.code === self.state.profile; })
      : this.profiles;
    var rows = [];
    var holidays = this.marksHolidays(g) ? this.bucketHolidays(g) : null;
    figures.buckets.forEach(function (iso, i) {
      var byProfile = {};
      self.profiles.forEach(function (p) { byProfile[p.code] = figures.values[p.code][i]; });
      var partial = figures.partial[i];
      var text = self.detailText(self.bucketWords(iso, g), byProfile, self.indicator.unit) +
        (partial ? " (" + self.partialWords(partial, g) + ")" : "") +
        (holidays && holidays[i].length ? " — " + self.holidayWords(holidays[i], g) : "");
      var t = utc(iso);
      var t2 = nextBucket(iso, g);
      shown.forEach(function (p, order) {
        rows.push({ t: t, t2: t2, p: p.code, l: p.label, o: order, v: byProfile[p.code], d: text,
          partial: Boolean(partial) });
      });
    });
    /* the caption's maximum is of a series on show: Tous, else the first profile the legend shows */
    var visible = single ? shown : this.visibleProfiles();
    var focus = !visible.length ? null : single ? this.state.profile
      : visible.some(function (p) { return p.code === "all"; }) ? "all" : visible[0].code;
    var best = null;
    if (focus !== null) {
      figures.buckets.forEach(function (iso, i) {
        var v = figures.values[focus][i];
        if (v !== null && (best === null || v > figures.values[focus][best])) { best = i; }
      });
    }
    var words = (single ? "Barres" : "Courbes") + " : " + this.indicator.label.toLowerCase() + " par " +
      this.config.groupings[g].toLowerCase() + ", " + this.periodWords("12months") + ", " +
      (single ? "profil " + this.labels[focus] + "." : "une courbe pour Tous et une par profil.");
    var empty = null;
    if (focus === null) {
      empty = NO_PROFILE_SHOWN;
      words += " " + NO_PROFILE_SHOWN;
    } else if (best === null) {
      empty = this.indicator.ratio ? "Aucun visiteur sur la période : pas de visites par visiteur à calculer."
        : "Aucune donnée sur la période.";
      words += " " + empty;
    } else if (!figures.values[focus][best]) {  /* zero is a figure, not a missing one: the line is drawn */
      words += " " + this.number(0) + " " + this.indicator.unit + " sur toute la période (" + this.labels[focus] + ").";
    } else {
      words += " Maximum (" + this.labels[focus] + ") : " + this.number(figures.values[focus][best]) + ", " +
        this.bucketWords(figures.buckets[best], g) + ".";
    }
    var title = this.indicator.label + " par " + this.config.groupings[g].toLowerCase();
    var datasets = {};
    if (holidays) {
      datasets.holidays = this.holidayBands(g, figures.buckets, single);
      var legend = this.holidayLegend();
      if (datasets.holidays.length) { words += " Bandes grisées : " + legend.charAt(0).toLowerCase() + legend.slice(1) + "."; }
    }
    if (single) {  /* every highest bar, ties included, is labelled */
      var most = best === null ? 0 : figures.values[focus][best];
      datasets.peak = most > 0 ? figures.buckets.filter(function (iso, i) {
        return figures.values[focus][i] === most;
      }).map(function (iso) { return { t: utc(iso), t2: nextBucket(iso, g), v: most, label: "Max" }; }) : [];
    }
    return { key: (single ? "bars-" : "lines-") + g, rows: rows, datasets: datasets, params: {}, words: words,
      title: title, empty: empty };
  };

  Detail.prototype.appsChart = function () {
    var self = this;
    var figures = this.data.apps[this.state.period];
    var profile = this.state.profile;
    var counts = {};
    this.profiles.forEach(function (p) {
      counts[p.code] = {};
      figures[p.code].forEach(function (pair) { counts[p.code][pair[0]] = pair[1]; });
    });
    var rows = figures[profile].map(function (pair, rank) {
      var byProfile = {};
      self.profiles.forEach(function (p) { byProfile[p.code] = counts[p.code][pair[0]] || 0; });
      var text = profile === "all" ? self.detailText(pair[0], byProfile, self.indicator.unit)
        : pair[0] + " — " + self.number(pair[1]) + " " + self.indicator.unit + " (" + self.labels[profile] + ")";
      return { a: pair[0], r: rank, v: pair[1], p: profile, l: self.labels[profile], d: text };
    });
    var words = "Barres horizontales : accès par application, profil " + this.labels[profile] + ", " +
      this.periodWords(this.state.period) + ", de la plus utilisée à la moins utilisée.";
    var empty = rows.length ? null : "Aucun accès aux applis sur la période" +
      (profile === "all" ? "." : " pour le profil " + this.labels[profile] + ".");
    var tops = rows.filter(function (row) { return row.v === rows[0].v; }).map(function (row) { return row.a; });
    words += !rows.length ? " " + empty : " " + rows.length + " applications ; " +
      (tops.length > 1 ? "les plus utilisées, ex æquo : " : "la plus utilisée : ") + listWords(tops) + " (" +
      this.number(rows[0].v) + " accès" + (tops.length > 1 ? " chacune" : "") + ").";
    return { key: "apps", rows: rows, datasets: {}, params: { topApps: tops }, words: words, empty: empty,
      title: "Accès par application, " + this.config.periodWords[this.state.period] };
  };

  Detail.prototype.slotsChart = function () {
    var self = this;
    var names = this.slotNames();
    var figures = this.slotFigures();
    var visible = this.visibleProfiles();
    var rows = [];
    var totals = names.map(function (name, i) {
      return visible.reduce(function (sum, p) { return sum + figures[p.code][i]; }, 0);
    });
    names.forEach(function (name, i) {
      var byProfile = {};
      self.profiles.forEach(function (p) { byProfile[p.code] = figures[p.code][i]; });
      var text = self.detailText(name, byProfile, "connexions");
      self.profiles.slice(1).forEach(function (p, order) {
        rows.push({ s: name, p: p.code, l: p.label, o: order, v: figures[p.code][i], d: text });
      });
    });
    var most = Math.max.apply(null, totals);
    var peaks = most > 0 ? names.filter(function (name, i) { return totals[i] === most; }) : [];
    var weekdays = this.indicator.kind === "weekdays";
    var occurrences = weekdays ? this.weekdayCounts(this.state.period) : null;
    var peakRows = peaks.map(function (name) { return { s: name, v: most, label: "Pic" }; });
    var what = weekdays ? "par jour de la semaine" : "par créneau horaire";
    var words = "Barres empilées par profil : connexions " + what + ", " + this.periodWords(this.state.period) + ".";
    var empty = !visible.length ? NO_PROFILE_SHOWN : !peaks.length ? "Aucune connexion sur la période" +
      (this.state.hidden.length ? " pour les profils affichés." : ".") : null;
    if (!peaks.length) {
      words += " " + empty;
    } else {
      words += " Pic" + (peaks.length > 1 ? "s ex æquo : " : " : ") + listWords(peaks) + " avec " +
        intFormat.format(most) + " connexions" + (peaks.length > 1 ? " chacun" : "") +
        (this.state.hidden.length ? " (profils affichés)" : "");
      if (weekdays) {  /* months hold unequal numbers of each weekday: the mean per occurrence as well */
        words += " (" + peaks.map(function (name) {
          var n = occurrences[names.indexOf(name)];
          return self.perOccurrence(most, n) + " par " + name.toLowerCase() + ", " + n + " " +
            name.toLowerCase() + (n > 1 ? "s" : "");
        }).join(" ; ") + ")";
      }
      words += ".";
    }
    return { key: this.indicator.kind, rows: rows, datasets: { peak: peakRows }, empty: empty,
      title: "Connexions " + what + ", " + this.config.periodWords[this.state.period],
      params: { peakSlots: peaks }, words: words, peaks: peaks, occurrences: occurrences };
  };

  /* How many of each weekday (Lundi first) the period holds */
  Detail.prototype.weekdayCounts = function (period) {
    var span = this.data.periods[period];
    var counts = [0, 0, 0, 0, 0, 0, 0];
    for (var t = utc(span[0]); t <= utc(span[1]); t += DAY_MS) { counts[(new Date(t).getUTCDay() + 6) % 7] += 1; }
    return counts;
  };

  Detail.prototype.perOccurrence = function (total, occurrences) {
    return occurrences ? oneDecimal.format(total / occurrences) : "—";
  };

  function listWords(items) {
    return items.length < 2 ? items.join("") : items.slice(0, -1).join(", ") + " et " + items[items.length - 1];
  }

  Detail.prototype.chartModel = function () {
    if (this.indicator.kind === "series") { return this.seriesChart(); }
    if (this.indicator.kind === "apps") { return this.appsChart(); }
    return this.slotsChart();
  };

  /* The table under the chart: the same figures, one builder per kind of indicator ---------------- */
  function tableCell(tag, text, attrs) { return el(tag, attrs, text); }

  Detail.prototype.profileColumns = function (head) {
    this.profiles.forEach(function (p) { head.appendChild(tableCell("th", p.label, { scope: "col", "class": "num" })); });
  };

  Detail.prototype.seriesTable = function (caption, head, tbody) {
    var self = this;
    var grouping = this.state.grouping;
    var figures = this.seriesFigures();
    caption.textContent = this.indicator.label + " par " + this.config.groupings[grouping].toLowerCase() + ", " +
      this.periodWords("12months");
    head.appendChild(tableCell("th", this.config.groupings[grouping], { scope: "col" }));
    this.profileColumns(head);
    var holidays = this.marksHolidays(grouping) ? this.bucketHolidays(grouping) : null;
    if (holidays) { head.appendChild(tableCell("th", "Vacances scolaires", { scope: "col", "class": "holiday" })); }
    figures.buckets.forEach(function (iso, i) {
      var tr = el("tr");
      var th = tableCell("th", self.bucketWords(iso, grouping), { scope: "row" });
      if (figures.partial[i]) {
        tr.className = "partial";
        th.appendChild(el("span", { "class": "partial-tag" }, " (" + self.partialWords(figures.partial[i], grouping) + ")"));
      }
      tr.appendChild(th);
      self.profiles.forEach(function (p) {
        tr.appendChild(tableCell("td", self.number(figures.values[p.code][i]), { "class": "num" }));
      });
      if (holidays) {
        tr.appendChild(tableCell("td", self.holidayWords(holidays[i], grouping), { "class": "holiday" }));
      }
      tbody.appendChild(tr);
    });
  };

  Detail.prototype.appsTable = function (caption, head, tbody, model) {
    var self = this;
    caption.textContent = "Accès par application, profil " + this.labels[this.state.profile] + ", " +
      this.periodWords(this.state.period);
    ["Rang", "Application", "Accès"].forEach(function (name, i) {
      head.appendChild(tableCell("th", name, { scope: "col", "class": i === 1 ? "" : "num" }));
    });
    model.rows.forEach(function (row) {
      var tr = el("tr");
      tr.appendChild(tableCell("td", String(row.r + 1), { "class": "num" }));
      tr.appendChild(tableCell("th", row.a, { scope: "row" }));
      tr.appendChild(tableCell("td", self.number(row.v), { "class": "num" }));
      tbody.appendChild(tr);
    });
    if (!model.rows.length) {
      var empty = el("tr");
      empty.appendChild(tableCell("td", "Aucun accès sur la période.", { colspan: "3" }));
      tbody.appendChild(empty);
    }
  };

  Detail.prototype.slotsTable = function (caption, head, tbody, model) {
    var self = this;
    var hours = this.indicator.kind === "hours";
    var slots = this.slotFigures();
    caption.textContent = "Connexions " + (hours ? "par créneau horaire" : "par jour de la semaine") + ", " +
      this.periodWords(this.state.period);
    head.appendChild(tableCell("th", hours ? "Créneau" : "Jour", { scope: "col" }));
    this.profileColumns(head);
    if (!hours) {  /* the period's number of each weekday, and Tous's mean per such day */
      head.appendChild(tableCell("th", "Jours dans la période", { scope: "col", "class": "num" }));
      head.appendChild(tableCell("th", "Moyenne par jour (Tous)", { scope: "col", "class": "num" }));
    }
    this.slotNames().forEach(function (name, i) {
      var tr = el("tr");
      var th = tableCell("th", name, { scope: "row" });
      if (model.peaks.indexOf(name) >= 0) {
        tr.className = "peak";
        th.appendChild(el("strong", { "class": "peak-tag" }, " (pic)"));
      }
      tr.appendChild(th);
      self.profiles.forEach(function (p) {
        tr.appendChild(tableCell("td", self.number(slots[p.code][i]), { "class": "num" }));
      });
      if (!hours) {
        var n = model.occurrences[i];
        tr.appendChild(tableCell("td", String(n), { "class": "num" }));
        tr.appendChild(tableCell("td", self.perOccurrence(slots.all[i], n), { "class": "num" }));
      }
      tbody.appendChild(tr);
    });
  };

  Detail.prototype.table = function (model) {
    var table = el("table", { "class": "data-table" });
    var caption = el("caption", { id: "table-caption" });
    var head = el("tr");
    var tbody = el("tbody");
    var kind = this.indicator.kind;
    var fill = kind === "series" ? this.seriesTable : kind === "apps" ? this.appsTable : this.slotsTable;
    fill.call(this, caption, head, tbody, model);
    var thead = el("thead");
    thead.appendChild(head);
    table.appendChild(caption);
    table.appendChild(thead);
    table.appendChild(tbody);
    return table;
  };

  /* The export link: its file names come from Python (STATS_CONFIG), as the CSV writer names them */
  Detail.prototype.exportName = function () {
    var choice = this.indicator.kind === "series" ? this.state.grouping : this.state.period;
    return this.indicator.exports[choice];
  };

  Detail.prototype.spec = function (model) {
    var spec = JSON.parse(JSON.stringify(this.config.specs[model.key]));
    var datasets = { rows: model.rows };
    Object.keys(model.datasets).forEach(function (k) { datasets[k] = model.datasets[k]; });
    spec.datasets = datasets;
    if (model.key === "apps") { spec.height = Math.max(1, model.rows.length) * this.config.appStep; }
    var values = { hidden: this.state.hidden.slice() };
    if (/-day$/.test(model.key)) {
      var shown = this.dayWindow();
      values.dayFrom = shown[0];
      values.dayTo = shown[1];
    }
    Object.keys(model.params).forEach(function (k) { values[k] = model.params[k]; });
    (spec.params || []).forEach(function (param) {
      if (Object.prototype.hasOwnProperty.call(values, param.name)) { param.value = values[param.name]; }
    });
    return spec;
  };

  /* The day view's window [from, to) in UTC ms: the chosen span, ending at the period's end unless the
     reader moved it; the whole period for "13 mois" */
  Detail.prototype.dayWindow = function () {
    var span = this.data.periods[this.config.defaults.period];
    var start = utc(span[0]);
    var stop = utc(span[1]) + DAY_MS;
    var length = this.config.dayWindows[this.state.window] * DAY_MS;
    if (!length || length >= stop - start) { return [start, stop]; }
    var end = Math.min(stop, Math.max(start + length, this.state.windowEnd || stop));
    return [end - length, end];
  };

  Detail.prototype.moveWindow = function (direction) {
    var shown = this.dayWindow();
    this.state.windowEnd = shown[1] + direction * (shown[1] - shown[0]);
    this.render();
  };

  Detail.prototype.showWindowControls = function (model) {
    var box = document.getElementById("day-window");
    if (!box) { return ""; }
    box.hidden = !/-day$/.test(model.key) || Boolean(model.empty);
    if (box.hidden) { return ""; }
    var shown = this.dayWindow();
    var span = this.data.periods[this.config.defaults.period];
    document.getElementById("window-earlier").disabled = shown[0] <= utc(span[0]);
    document.getElementById("window-later").disabled = shown[1] >= utc(span[1]) + DAY_MS;
    return " Affichés : du " + this.dayWords(new Date(shown[0]).toISOString().slice(0, 10)) + " au " +
      this.dayWords(new Date(shown[1] - DAY_MS).toISOString().slice(0, 10)) + ".";
  };

  Detail.prototype.render = function () {
    var self = this;
    var model = this.chartModel();
    model.words += this.showWindowControls(model);
    var chart = document.getElementById("chart");
    document.getElementById("chart-title").textContent = model.title;
    document.getElementById("chart-desc").textContent = model.words +
      (this.state.hidden.length ? " Profils masqués : " + this.state.hidden.map(function (c) {
        return self.labels[c];
      }).join(", ") + "." : "");
    this.writeHash();
    this.showHolidayKey(this.state.grouping);
    var region = document.getElementById("table-region");
    region.textContent = "";
    region.appendChild(this.table(model));
    var name = this.exportName();
    var link = document.getElementById("export");
    /* served, the export URL is answered from the stored (compressed) file; from disk only that file exists */
    var stored = window.location.protocol === "file:" ? this.config.exportStoredSuffix : "";
    link.setAttribute("href", "csv/" + name + stored);
    document.getElementById("export-format").textContent = "(CSV, " + name + ")";
    var token = {};
    this.token = token;
    var previous = this.view;
    if (model.empty) {  /* a sentence, not an empty frame or a stub axis with a lone 0 */
      if (previous) { previous.finalize(); }
      this.view = null;
      chart.textContent = "";
      chart.appendChild(el("p", { "class": "chart-empty" }, model.empty));
      chart.setAttribute("data-chart", "empty");
      body.setAttribute("data-chart-ready", "true");
      return;
    }
    var stale = chart.querySelector(".chart-empty");
    if (stale) { chart.removeChild(stale); }
    window.vegaEmbed(chart, this.spec(model), window.STATS_PAGE.chartOptions(this.config)).then(function (result) {
      if (previous) { previous.finalize(); }
      if (self.token !== token) { result.finalize(); return; }
      self.view = result;
      /* a touch screen has no hover: a tap shows what the tooltip would, under the chart */
      var tip = document.getElementById("tap-tip");
      tip.hidden = true;
      result.view.addEventListener("click", function (event, item) {
        var text = item && item.datum && item.datum.d;
        if (event.pointerType !== "touch") { return; }
        tip.textContent = text || "";
        tip.hidden = !text;
      });
      chart.setAttribute("data-chart", model.key);
      chart.setAttribute("data-rendered", String(Date.now()));
      body.setAttribute("data-chart-ready", "true");
    }).catch(function (error) {
      chart.textContent = "Le graphique n'a pas pu être affiché.";
      if (window.console) { window.console.error(error); }
    });
  };

  Detail.prototype.bind = function () {
    var self = this;
    CHOICES.forEach(function (name) {
      var checked = document.querySelector("input[name='" + name + "']:checked");
      if (checked) { self.state[name] = checked.value; }
      Array.prototype.forEach.call(document.querySelectorAll("input[name='" + name + "']"), function (input) {
        input.addEventListener("change", function () {
          self.state[name] = input.value;
          if (name === "window") { self.state.windowEnd = null; }
          self.render();
        });
      });
    });
    [["window-earlier", -1], ["window-later", 1]].forEach(function (pair) {
      var button = document.getElementById(pair[0]);
      if (button) { button.addEventListener("click", function () { self.moveWindow(pair[1]); }); }
    });
    Array.prototype.forEach.call(document.querySelectorAll(".legend-item"), function (button) {
      button.addEventListener("click", function () {
        var code = button.getAttribute("data-profile");
        var hidden = self.state.hidden;
        var at = hidden.indexOf(code);
        if (at < 0) { hidden.push(code); } else { hidden.splice(at, 1); }
        button.setAttribute("aria-pressed", at < 0 ? "false" : "true");
        self.render();
      });
    });
  };

  /* The view in the URL (#grouping=week&period=month&profile=Teacher&hidden=Guest,Relative) ------- */
  var CHOICES = ["grouping", "period", "profile", "window"];

  /* Applies what the URL's fragment says to this page's controls (values a control does not offer are
     ignored) and keeps every key read, so that a choice this page has no control for carries on. */
  Detail.prototype.readHash = function () {
    var self = this;
    var params = new URLSearchParams(window.location.hash.slice(1));
    this.carried = {};
    CHOICES.forEach(function (name) {
      var value = params.get(name);
      if (value !== null) { self.carried[name] = value; }
      var inputs = document.querySelectorAll("input[name='" + name + "']");
      var offered = Array.prototype.some.call(inputs, function (input) { return input.value === value; });
      var wanted = offered ? value : self.config.defaults[name];
      Array.prototype.forEach.call(inputs, function (input) {
        if (input.value === wanted) { input.checked = true; self.state[name] = wanted; }
      });
    });
    var hidden = params.get("hidden");
    if (hidden !== null) { this.carried.hidden = hidden; }
    var codes = (hidden || "").split(",");
    this.state.hidden = [];
    this.profiles.forEach(function (p) {
      var button = document.querySelector(".legend-item[data-profile='" + p.code + "']");
      if (!button) { return; }
      var hide = codes.indexOf(p.code) >= 0;
      if (hide) { self.state.hidden.push(p.code); }
      button.setAttribute("aria-pressed", hide ? "false" : "true");
    });
  };

  /* The fragment for the current view: this page's choices that differ from the defaults, and the
     carried ones it has no control for. The indicator links take it to the next page. */
  Detail.prototype.hash = function () {
    var self = this;
    var params = new URLSearchParams();
    CHOICES.forEach(function (name) {
      var controlled = document.querySelector("input[name='" + name + "']");
      var value = controlled ? self.state[name] : self.carried[name];
      if (value !== undefined && value !== self.config.defaults[name]) { params.set(name, value); }
    });
    var legend = document.querySelector(".legend-item");
    var hidden = legend ? this.state.hidden.join(",") : this.carried.hidden;
    if (hidden) { params.set("hidden", hidden); }
    return params.toString();
  };

  Detail.prototype.writeHash = function () {
    var hash = this.hash();
    var here = window.location.pathname + window.location.search;
    window.history.replaceState(null, "", hash ? here + "#" + hash : here);
    Array.prototype.forEach.call(document.querySelectorAll(".indicators a, .views a"), function (link) {
      var href = link.getAttribute("href").split("#")[0];
      link.setAttribute("href", hash ? href + "#" + hash : href);
    });
  };

  /* The controls (grouping, day window, period, profile, legend) only work with this script: the build writes
     them once into STATS_CONFIG instead of into every page, and they are put in place before anything reads them. */
  function placeControls(indicator) {
    document.getElementById("controls").innerHTML = indicator.controls.head;
    var slot = document.getElementById("series-controls");
    slot.insertAdjacentHTML("beforebegin", indicator.controls.series);
    slot.parentNode.removeChild(slot);
  }

  function setupDetail() {
    if (body.getAttribute("data-page") !== "detail") { return; }
    var chart = document.getElementById("chart");
    if (!window.STATS_DATA || !window.STATS_CONFIG || !window.vegaEmbed) {
      chart.textContent = "Les données de cette page n'ont pas pu être chargées.";
      return;
    }
    var detail = new Detail(window.STATS_CONFIG, window.STATS_DATA, body.getAttribute("data-indicator"));
    placeControls(detail.indicator);
    /* the as-of day is in data.js, not in the page: a detail page's bytes do not change from night to night */
    document.getElementById("as-of").textContent = "Données au " + detail.dayWords(window.STATS_DATA.as_of);
    /* on a narrow screen the indicator list scrolls sideways: the current one is brought into view */
    var indicators = document.querySelector(".indicators ul");
    var current = document.querySelector(".indicators a[aria-current='page']");
    if (indicators && current && indicators.scrollWidth > indicators.clientWidth) {
      var offset = current.getBoundingClientRect().left - indicators.getBoundingClientRect().left;
      indicators.scrollLeft += offset - (indicators.clientWidth - current.offsetWidth) / 2;
    }
    detail.bind();
    detail.readHash();
    detail.render();
    window.addEventListener("hashchange", function () {  /* a view pasted into the address bar */
      detail.readHash();
      detail.render();
    });
  }

  setupDetail();
}());
