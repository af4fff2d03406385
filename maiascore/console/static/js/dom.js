// Every value from the API reaches the page through text nodes or attributes, never as markup.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'disabled' || key === 'hidden') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

let uid = 0;
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

// A labelled control: <div class=field><label for=id>text</label>control<p class=hint/><p class=error/></div>
export function field(labelText, control, hint) {
  if (!control.id) control.id = nextId();
  const error = h('p', { class: 'error', id: `${control.id}-error`, role: 'alert' });
  control.setAttribute('aria-errormessage', error.id);
  const parts = [h('label', { for: control.id, text: labelText }), control];
  if (hint) {
    const hintEl = h('p', { class: 'hint', id: `${control.id}-hint`, text: hint });
    control.setAttribute('aria-describedby', hintEl.id);
    parts.push(hintEl);
  }
  parts.push(error);
  return h('div', { class: 'field' }, parts);
}

export function setError(el, message) {
  const box = el.classList.contains('error') ? el : el.querySelector(':scope > .error, .error');
  if (box) box.textContent = message || '';
}

export function select(options, value, props = {}) {
  const el = h('select', props);
  for (const option of options) {
    const [val, label] = Array.isArray(option) ? option : [option, option];
    el.append(h('option', { value: val, text: label, selected: String(val) === String(value ?? '') }));
  }
  return el;
}

export function button(text, onclick, props = {}) {
  return h('button', { type: 'button', onclick, ...props, text });
}

export function toast(message) {
  const box = document.getElementById('toast');
  box.textContent = message;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.textContent = ''; }, 5000);
}

// A confirmation in a modal <dialog>: focus is trapped by the browser, Escape cancels.
export function confirmDialog(title, message, confirmText) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title' },
      h('h2', { id: 'confirm-title', text: title }),
      h('p', { text: message }),
      h('div', { class: 'actions' },
        button('Cancel', () => dialog.close('cancel')),
        button(confirmText, () => dialog.close('ok'), { class: 'primary' })));
    dialog.addEventListener('close', () => { dialog.remove(); resolve(dialog.returnValue === 'ok'); });
    document.body.append(dialog);
    dialog.showModal();
  });
}
