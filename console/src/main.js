// The console's shell: sign-in, navigation (hash routes, so the server serves one page), the
// region, and the alert area every page reports errors in.
import './style.css';
import { clearSession, describeError, lambda, loadSession, saveSession } from './api.js';
import { ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { clear, h } from './dom.js';
import { functionsPage } from './pages/functions.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const alerts = document.getElementById('alerts');

// Shows an error (AWS's type and message) until the next navigation or dismissal.
export function showError(e, context) {
  const text = context ? `${context}: ${describeError(e)}` : describeError(e);
  alerts.append(h('div', { class: 'alert' }, h('span', {}, text),
    h('button', { type: 'button', class: 'small', 'aria-label': 'Dismiss', onclick: (ev) => ev.target.parentElement.remove() }, 'Dismiss')));
}
export function showNotice(text) {
  alerts.append(h('div', { class: 'notice' }, h('span', {}, text),
    h('button', { type: 'button', class: 'small', 'aria-label': 'Dismiss', onclick: (ev) => ev.target.parentElement.remove() }, 'Dismiss')));
}

const routes = [
  [/^#\/functions\/?$/, () => functionsPage],
  [/^#\/functions\/([^/]+)$/, async () => (await import('./pages/function.js')).functionPage],
  [/^#\/rollouts\/?$/, async () => (await import('./pages/rollouts.js')).rolloutsPage],
  [/^#\/compliance\/?$/, async () => (await import('./pages/compliance.js')).compliancePage],
];

let generation = 0;  // a page's async work stops touching the DOM once another page shows
export const current = () => generation;

// Shows the page the address names again (after a change), keeping the alerts when asked.
export const reload = (keepAlerts = true) => route(keepAlerts);

async function route(keepAlerts = false) {
  const session = loadSession();
  if (keepAlerts !== true) alerts.replaceChildren();
  const mine = ++generation;
  delete main.dataset.ready;
  if (!session) {
    renderChrome(null);
    return signIn();
  }
  renderChrome(session);
  const hash = location.hash || '#/functions';
  for (const [pattern, load] of routes) {
    const m = hash.match(pattern);
    if (!m) continue;
    const page = await load();
    if (mine !== generation) return;
    clear(main);
    try {
      await page(main, session, m.slice(1).map(decodeURIComponent), () => mine === generation);
    } catch (e) {
      if (mine === generation) showError(e);
    }
    return;
  }
  location.hash = '#/functions';
}

function renderChrome(session) {
  const here = (location.hash || '#/functions').split('/')[1];
  const link = (href, text) => h('a', { href, 'aria-current': href.split('/')[1] === here ? 'page' : undefined }, text);
  clear(nav, session ? [link('#/functions', 'Functions'), link('#/rollouts', 'Rollouts'), link('#/compliance', 'Compliance')] : []);
  if (!session) return clear(who);
  const region = h('input', { id: 'region', value: session.region, size: 10, 'aria-label': 'Region', list: 'regions', autocomplete: 'off' });
  const form = h('form', { class: 'region-form', onsubmit: (e) => {
    e.preventDefault();
    const r = region.value.trim();
    if (r && r !== session.region) { saveSession({ ...session, region: r }); route(); }
  } }, h('label', { for: 'region' }, 'Region'), region, h('button', { type: 'submit', class: 'small' }, 'Switch'));
  clear(who, form, h('span', { class: 'key', title: 'Signed in with this access key' }, session.accessKeyId),
    h('button', { type: 'button', class: 'small', onclick: () => { clearSession(); location.hash = '#/functions'; route(); } }, 'Sign out'));
}

function signIn() {
  const field = (id, label, attrs = {}) => [h('label', { for: id }, label), h('input', { id, name: id, required: true, ...attrs })];
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', { class: 'muted' }, 'With an access key of Lambkin\'s IAM (or a role session\'s three values). Every call is signed here, in your browser; the secret stays in this tab and is forgotten when it closes.'),
    field('accessKeyId', 'Access key ID', { autocomplete: 'username', spellcheck: 'false' }),
    field('secretAccessKey', 'Secret access key', { type: 'password', autocomplete: 'current-password' }),
    h('label', { for: 'sessionToken' }, 'Session token (role sessions only)'),
    h('input', { id: 'sessionToken', name: 'sessionToken', autocomplete: 'off' }),
    field('signinRegion', 'Region', { value: 'us-east-1' }),
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const s = {
      accessKeyId: form.accessKeyId.value.trim(),
      secretAccessKey: form.secretAccessKey.value,
      sessionToken: form.sessionToken.value.trim() || undefined,
      region: form.signinRegion.value.trim(),
    };
    error.textContent = '';
    try {
      // A key that signs correctly is accepted even where listing is denied: the console then
      // shows what its policies allow.
      await lambda(s).send(new ListFunctionsCommand({ MaxItems: 1 }));
    } catch (err) {
      if (err?.name !== 'AccessDeniedException') {
        error.textContent = describeError(err);
        return;
      }
    }
    saveSession(s);
    route();
  });
  clear(main, form);
  form.accessKeyId.focus();
}

window.addEventListener('hashchange', () => route());
route();
