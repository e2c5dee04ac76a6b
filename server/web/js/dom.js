// Building elements without a framework: h("tag.class", {attributes}, ...children).

export function h(spec, attributes = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const element = document.createElement(tag);
  if (classes.length) element.className = classes.join(" ");
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "text") element.textContent = value;
    else if (key in element && !key.includes("-") && key !== "list" && key !== "form")
      element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export const svgNS = "http://www.w3.org/2000/svg";

export function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(svgNS, tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) element.setAttribute(key, value);
  }
  append(element, children);
  return element;
}

export function money(amount) {
  return Math.round(amount || 0).toLocaleString("en");
}

export function percent(fraction) {
  return `${Math.round((fraction || 0) * 100)}%`;
}

/** A DOM id from any text (field paths, practice ids). */
export function idOf(...parts) {
  return parts.join("-").replace(/[^A-Za-z0-9_-]/g, "_");
}
