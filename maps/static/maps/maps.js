/* geo-service map helpers (served locally; used by the folium maps of maps/).
 * One data layer either holds its features inline (L.geoJSON on a canvas renderer) or reads them as
 * vector tiles from /tiles/{collection}/{z}/{x}/{y}.mvt (Leaflet.VectorGrid) when the layer is large;
 * both take the same style(properties) and filter(properties) functions and the same popup fields. */
(function () {
  "use strict";
  // Leaflet.VectorGrid 1.3 calls L.DomEvent.fakeStop, which Leaflet 1.8+ no longer has.
  // (This file may load before Leaflet: patch when the first layer is made.)
  function shim() {
    if (window.L && L.DomEvent && !L.DomEvent.fakeStop) {
      L.DomEvent.fakeStop = function (e) { L.DomEvent.stopPropagation(e); };
    }
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function fmt(value, field) {
    // field: [name, label_zh, unit, vocab]
    if (value === null || value === undefined || value === "") return "—";
    var vocab = field[3];
    if (typeof value === "string" && value.charAt(0) === "[") {
      try { value = JSON.parse(value); } catch (e) { /* plain text */ }
    }
    if (Array.isArray(value)) {
      return value.map(function (v) { return esc(vocab && vocab[v] ? vocab[v] : v); }).join("、") || "—";
    }
    if (vocab && vocab[value] !== undefined) return esc(vocab[value]);
    if (typeof value === "boolean") return value ? "是" : "否";
    if (typeof value === "number" && field[2] === "%") {
      return (value * 100).toLocaleString("zh-CN", { maximumFractionDigits: 1 }) + "%";
    }
    if (typeof value === "number") {
      var digits = Math.abs(value) < 1 && value !== 0 ? 3 : (Number.isInteger(value) ? 0 : 1);
      return value.toLocaleString("zh-CN", { maximumFractionDigits: digits }) + (field[2] ? " " + esc(field[2]) : "");
    }
    return esc(value) + (field[2] ? " " + esc(field[2]) : "");
  }

  function popupHtml(props, fields, title) {
    var rows = fields.map(function (f) {
      return "<tr><th>" + esc(f[1]) + "</th><td>" + fmt(props[f[0]], f) + "</td></tr>";
    }).join("");
    return '<div class="geo-popup">' + (title ? "<h4>" + esc(title) + "</h4>" : "") + "<table>" + rows + "</table></div>";
  }

  var shared = {};
  function canvas() {
    if (!shared.canvas) shared.canvas = L.canvas({ padding: 0.3, tolerance: 4 });
    return shared.canvas;
  }

  function dataLayer(map, o) {
    shim();
    var style = o.style || function () { return {}; };
    var filter = o.filter || function () { return true; };
    var fields = o.fields || [];
    var title = function (p) { return o.titleField ? p[o.titleField] : null; };
    var layer;
    if (o.tiles) {
      var styles = {};
      styles[o.layerName] = function (props, zoom) {
        if (!filter(props)) return [];
        var s = Object.assign({ fill: true, weight: 1, radius: (o.point && o.point.radius) || 5 }, style(props));
        if (s.fillColor === undefined) s.fillColor = s.color;
        return s;
      };
      layer = L.vectorGrid.protobuf(o.tiles, {
        rendererFactory: L.canvas.tile,
        vectorTileLayerStyles: styles,
        interactive: true,
        maxNativeZoom: 18,
        attribution: o.attribution || "",
        getFeatureId: function (f) { return f.id; }
      });
      layer.on("click", function (e) {
        var p = e.layer.properties || {};
        L.popup({ maxHeight: 320 }).setLatLng(e.latlng).setContent(popupHtml(p, fields, title(p))).openOn(map);
      });
      layer.restyle = function () { layer.redraw(); };
    } else {
      layer = L.geoJSON(o.data, {
        renderer: canvas(),
        filter: function (f) { return filter(f.properties); },
        style: function (f) { return style(f.properties); },
        pointToLayer: function (f, latlng) {
          // on the shared canvas: a marker on the map's own renderer would sit above it and take every click
          var s = Object.assign({ renderer: canvas(), radius: (o.point && o.point.radius) || 5, weight: 1, fillOpacity: 0.85 }, style(f.properties));
          if (o.point && o.point.radiusField) {
            var v = f.properties[o.point.radiusField] || 0;
            s.radius = Math.max(o.point.min || 4, Math.min(o.point.max || 18, Math.sqrt(v) * (o.point.scale || 0.1)));
          }
          return L.circleMarker(latlng, s);
        },
        onEachFeature: function (f, l) {
          l.bindPopup(function () { return popupHtml(f.properties, fields, title(f.properties)); }, { maxHeight: 320 });
          if (o.tooltipField && f.properties[o.tooltipField]) l.bindTooltip(esc(f.properties[o.tooltipField]), { sticky: true });
        }
      });
      layer.restyle = function () {
        layer.eachLayer(function (l) {
          if (l.feature) l.setStyle(style(l.feature.properties));
        });
      };
    }
    layer.geoCollection = o.layerName;
    layer.geoMode = o.tiles ? "tiles" : "inline";
    return layer;
  }

  function control(map, html, position, className) {
    var C = L.Control.extend({
      onAdd: function () {
        var div = L.DomUtil.create("div", "geo-control " + (className || ""));
        div.innerHTML = html;
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
      }
    });
    var c = new C({ position: position || "bottomright" });
    c.addTo(map);
    return c;
  }

  function register(map) {
    L.control.scale({ metric: true, imperial: false }).addTo(map);  // metres and kilometres only
    window.geoMap = map;
    (window.geoMaps.maps = window.geoMaps.maps || []).push(map);
  }

  /* Count drawn features (for checks): inline layers' features plus vector-tile features drawn. */
  function drawnFeatures(map) {
    var n = 0;
    map.eachLayer(function (l) {
      if (l.feature) n += 1;
      if (l._vectorTiles) {
        Object.keys(l._vectorTiles).forEach(function (k) {
          var t = l._vectorTiles[k];
          if (t && t._features) n += Object.keys(t._features).length;
        });
      }
    });
    return n;
  }

  window.geoMaps = {
    esc: esc, fmt: fmt, popupHtml: popupHtml, dataLayer: dataLayer, control: control,
    register: register, drawnFeatures: drawnFeatures, maps: []
  };
})();
