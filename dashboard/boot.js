// The sign-in form in index.html is plain HTML, so it can be filled in before the app's wasm
// has arrived; a click on "Sign in" signs in at once (index.html's inline script). This script
// removes the form when a session was stored by an earlier visit (the app then opens the
// dashboard), registers the service worker that keeps the app shell for offline starts, and,
// once the plain form has signed in while the app is still on its way, shows today's figures
// live until the app takes over: on a slow link the app's download is most of the wait.
(() => {
  // The app shell is kept on this browser (sw.js): the dashboard opens offline. Registered
  // once the page has loaded, so the worker finds the app's files in the HTTP cache instead
  // of downloading them a second time beside the first load on a slow link.
  if ('serviceWorker' in navigator) {
    addEventListener('load', () => navigator.serviceWorker.register('/sw.js').catch(() => {}));
  }
  const boot = document.getElementById('boot');
  if (!boot) return;
  const form = document.getElementById('boot-login');
  // A session from an earlier visit: the app opens the dashboard. (One this page's form has
  // just stored is followed below.)
  if (localStorage.getItem('pulse.session') && !form.signIn) {
    boot.remove();
    return;
  }
  // Each Sign in leaves a promise on the form (index.html); nothing means it signed in.
  let followed;
  const follow = () => {
    const signIn = form.signIn;
    if (!signIn || signIn === followed) return;
    followed = signIn;
    signIn.then((refusal) => refusal === null && boot.isConnected && figures());
  };
  follow(); // signed in before this script came
  addEventListener('submit', follow);

  // Today's figures, as the overview's cards show them (format.rs), and the connection. The
  // app removes all of it when it starts, and takes the last figures along (shell.rs).
  function figures() {
    let session;
    try {
      session = JSON.parse(localStorage.getItem('pulse.session'));
    } catch {}
    if (!session?.token) return;
    const cards = [
      ['Liters delivered', 'kpi-liters', (s) => num(s.today_liters, 1) + ' L'],
      ['Sales', 'kpi-sales', (s) => num(s.today_sales, 2)],
      ['Collected', 'kpi-collection', (s) => num(s.today_collection, 2)],
      ['Outstanding', 'kpi-outstanding', (s) => num(s.outstanding, 2)],
      ['Active customers', 'kpi-active', (s) => num(s.active_customers, 0)],
      ['Deliveries', 'kpi-deliveries', (s) => num(s.deliveries_today, 0)],
    ];
    boot.className = '';
    boot.innerHTML =
      '<header class="topbar"><span class="brand">Pulse</span><div class="spacer"></div>' +
      '<div class="conn" data-testid="connection" role="status"><span class="conn-dot" aria-hidden="true"></span>' +
      '<span class="conn-label"></span></div></header><div class="page"><div class="page-head"><h1>Today</h1>' +
      '<p class="muted">Opening the dashboard…</p></div><div class="kpis">' +
      cards.map(([label, id]) =>
        `<section class="kpi" data-testid="${id}" aria-label="${label}"><h3 class="kpi-label">${label}</h3>` +
        '<p class="kpi-value">—</p><p class="kpi-delta">\u00a0</p></section>').join('') +
      '</div></div>';
    const conn = boot.querySelector('.conn');
    const connection = (state, label) => {
      conn.dataset.state = state;
      conn.lastElementChild.textContent = label;
    };
    connection('connecting', 'Connecting…');
    // The newest figures by the log position they carry, from REST or the socket.
    let shown = -1;
    const show = (envelope) => {
      if (!envelope?.data || envelope.seq < shown) return;
      shown = envelope.seq;
      boot.dataset.stats = JSON.stringify(envelope);
      cards.forEach(([, id, text]) => {
        boot.querySelector(`[data-testid="${id}"] .kpi-value`).textContent = text(envelope.data);
      });
    };
    fetch('/api/stats', { headers: { authorization: `Bearer ${session.token}` } })
      .then((r) => (r.ok ? r.json() : null))
      .then(show, () => {});
    // Socket.IO v4 over a WebSocket, this page's part of it: join as the app does on the
    // overview, answer pings, read `stats:updated`. Once joined, the socket is on offer to
    // the app (`boot.socket`, taken by pages/login.rs for the SDK's `hand_over`), with every
    // frame received but the pings answered here: the app then goes live on it without a
    // handshake of its own, and misses nothing that came meanwhile.
    // The overview's topics and those the app always wants (route.rs, topics.rs), in the
    // wire's order: the app takes the socket only if it would have joined with the same (a
    // test in topics.rs checks these lines).
    const topics = ['dashboard', 'deliveries', 'payments', 'notifications'];
    if (session.user?.role === 'admin') topics.push('users');
    const url = new URL('/socket.io/?EIO=4&transport=websocket', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url);
    // Kept for the app, up to a bound: an app that takes longer than that many frames opens
    // its own socket (this one is closed when it starts) and loads what it needs itself.
    let frames = [];
    // On offer once joined; `null` until then and after. The app deletes it when it takes it.
    boot.socket = null;
    ws.onmessage = ({ data }) => {
      if (data === '2') {
        ws.send('3');
        return;
      }
      if (frames?.push(data) > 10000) {
        frames = null;
        boot.socket = null;
      }
      if (data[0] === '0') {
        const join = '40' + JSON.stringify({ token: session.token, topics });
        ws.send(join);
        if (frames) boot.socket = { ws, join, frames };
      } else if (data.startsWith('40')) {
        connection('live', 'Live');
      } else if (data.startsWith('42')) {
        const [name, envelope] = JSON.parse(data.slice(2));
        if (name === 'stats:updated') show(envelope);
      } else if (data.startsWith('44')) {
        ws.close(); // refused: the app, on its way, deals with the session
      }
    };
    ws.onclose = () => {
      boot.socket = null;
      if (boot.isConnected) connection('connecting', 'Waiting for the app…');
    };
    // The app removes the figures when it starts: the socket goes with them unless the app
    // took it.
    new MutationObserver((_, observer) => {
      if (boot.isConnected) return;
      observer.disconnect();
      if ('socket' in boot) ws.close();
    }).observe(document.body, { childList: true });
  }

  // `1234.5` → `1,234.50` with `digits` decimals, computed as format.rs does (scaled, then
  // rounded), so a figure reads the same before and after the app takes over.
  function num(x, digits) {
    const scale = 10 ** digits;
    const units = Math.round(Math.abs(x) * scale);
    const fraction = digits ? '.' + String(units % scale).padStart(digits, '0') : '';
    return (x < 0 ? '-' : '') + Math.floor(units / scale).toLocaleString('en-US') + fraction;
  }
})();
