// Non-text contrast (WCAG 2.2 SC 1.4.11, at least 3:1), measured in the page for the browser
// tests (browser.rs, `Browser::assert_accessible`); axe-core does not check borders or focus
// indicators. Run by WebDriver's execute/sync with one argument:
//   "controls": every visible form control and button; its boundary (its border, or its fill
//               when it has one) against the background behind it. Returns the offenders.
//   "focused":  the focused element's focus indicator (outline or box-shadow) against what it
//               is drawn on. Returns null when nothing is focused, {seen: true} for an element
//               measured before (the Tab loop has gone round), else {what, problem}.
// Colours are read by painting the computed value on a canvas, so every syntax the browser
// computes (rgb(), color(srgb …), the result of color-mix()) is read one way. The background
// behind an element is its ancestors' background colours composited from the root down over
// white (the browser's canvas); background images and overlapping positioned boxes are not
// considered: the pages use neither behind their controls.
const mode = arguments[0];

const canvas = document.createElement('canvas');
canvas.width = 1;
canvas.height = 1;
const paint = canvas.getContext('2d', { willReadFrequently: true });

/** [r, g, b, alpha] of a computed CSS colour; r, g, b in 0..255, alpha in 0..1. */
function rgba(css) {
  paint.clearRect(0, 0, 1, 1);
  paint.fillStyle = 'rgba(0, 0, 0, 0)';
  paint.fillStyle = css;
  paint.fillRect(0, 0, 1, 1);
  const [r, g, b, a] = paint.getImageData(0, 0, 1, 1).data;
  if (a === 0) return [0, 0, 0, 0];
  return [r, g, b, a / 255];
}

/** `top` drawn over the opaque `bottom`. */
function over(top, bottom) {
  const a = top[3];
  return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1);
}

/** The opaque colour drawn behind `el`: its ancestors' backgrounds. */
function behind(el) {
  const chain = [];
  for (let e = el.parentElement; e; e = e.parentElement) chain.push(e);
  let colour = [255, 255, 255, 1];
  for (const e of chain.reverse()) colour = over(rgba(getComputedStyle(e).backgroundColor), colour);
  return colour;
}

/** WCAG 2.x relative luminance. */
function luminance(c) {
  const lin = (v) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

/** WCAG 2.x contrast ratio of two opaque colours. */
function ratio(x, y) {
  const [hi, lo] = [luminance(x), luminance(y)].sort((p, q) => q - p);
  return (hi + 0.05) / (lo + 0.05);
}

const hex = (c) => '#' + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
const fmt = (r) => (r === null ? 'none' : r.toFixed(2) + ':1');

/** A name for `el` that finds it in the template: tag, id or name, its form, its text. */
function describe(el) {
  let what = el.tagName.toLowerCase();
  if (el.id) {
    what += '#' + el.id;
  } else {
    if (el.getAttribute('type')) what += `[type=${el.getAttribute('type')}]`;
    if (el.getAttribute('name')) what += `[name=${el.getAttribute('name')}]`;
    if (el.getAttribute('href')) what += `[href="${el.getAttribute('href')}"]`;
    const form = el.closest('form');
    if (form && form.getAttribute('action')) what = `form[action="${form.getAttribute('action')}"] ${what}`;
  }
  const text = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
  return text ? `${what} "${text}"` : what;
}

function visible(el) {
  return el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
}

if (mode === 'controls') {
  const offenders = [];
  const controls = 'input:not([type=hidden]), select, textarea, button, a.button, [role=button]';
  for (const el of document.querySelectorAll(controls)) {
    if (!visible(el) || el.disabled) continue;
    const style = getComputedStyle(el);
    // A check box or radio button with the browser's own appearance is drawn by Chromium
    // (a #767676 frame, 4.5:1 on white); its computed border says nothing about it.
    if ((el.type === 'checkbox' || el.type === 'radio') && style.appearance !== 'none') continue;
    const back = behind(el);
    const ownFill = rgba(style.backgroundColor);
    const filled = over(ownFill, back);
    const fill = ownFill[3] > 0 ? ratio(filled, back) : null;
    let border = null;
    for (const side of ['Top', 'Right', 'Bottom', 'Left']) {
      const width = parseFloat(style[`border${side}Width`]);
      const kind = style[`border${side}Style`];
      if (!(width > 0) || kind === 'none' || kind === 'hidden') continue;
      const drawn = over(rgba(style[`border${side}Color`]), filled);
      const r = ratio(drawn, back);
      border = border === null ? r : Math.min(border, r);
    }
    const best = Math.max(fill ?? 0, border ?? 0);
    if (best < 3) {
      offenders.push(
        `${describe(el)}: border ${fmt(border)}, fill ${fmt(fill)} against ${hex(back)}`,
      );
    }
  }
  return offenders;
}

if (mode === 'focused') {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  if (el.__portcullisFocusMeasured) return { seen: true };
  el.__portcullisFocusMeasured = true;
  const what = describe(el);
  const style = getComputedStyle(el);
  const back = behind(el);
  const rings = [];
  if (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 1) {
    // An outline drawn inside the element (negative offset) lies on its fill.
    const on = parseFloat(style.outlineOffset) < 0 ? over(rgba(style.backgroundColor), back) : back;
    rings.push(['outline', over(rgba(style.outlineColor), on), on]);
  }
  if (style.boxShadow && style.boxShadow !== 'none') {
    for (const shadow of style.boxShadow.split(/,(?![^(]*\))/)) {
      const colour = shadow.match(/(?:rgba?|color|hsla?|lab|lch|oklab|oklch)\([^)]*\)|#[0-9a-f]+/i);
      if (colour && !/\binset\b/.test(shadow)) rings.push(['box-shadow', over(rgba(colour[0]), back), back]);
    }
  }
  if (rings.length === 0) return { what, problem: `${what}: no focus indicator (no outline, no box-shadow)` };
  const measured = rings.map(([kind, colour, on]) => [kind, ratio(colour, on), colour, on]);
  const [kind, best, colour, on] = measured.sort((a, b) => b[1] - a[1])[0];
  if (best < 3) {
    return { what, problem: `${what}: ${kind} ${hex(colour)} on ${hex(on)} is ${fmt(best)}` };
  }
  return { what };
}

throw new Error('non_text_contrast.js: unknown mode ' + mode);
