// The sign-in form in index.html is plain HTML, so it can be filled in before the app's wasm
// has arrived. This script (a file: the page's CSP allows no inline script) removes it when a
// session is stored (the app then opens the dashboard), and holds a click on "Sign in" until
// the app takes over: the Login page reads what was typed, and signs in if asked to. It also
// registers the service worker that keeps the app shell for offline starts.
(() => {
  // The app shell is kept on this browser (sw.js): the dashboard opens offline.
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});
  const boot = document.getElementById('boot');
  if (!boot) return;
  if (localStorage.getItem('pulse.session')) {
    boot.remove();
    return;
  }
  const form = document.getElementById('boot-login');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    form.dataset.pending = 'true';
    const button = form.querySelector('button');
    button.disabled = true;
    button.textContent = 'Signing in…';
  });
})();
