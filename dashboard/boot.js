// The sign-in form in index.html is plain HTML, so it can be filled in before the app's wasm
// has arrived; a click on "Sign in" is held by index.html's inline script until the app takes
// over (the Login page reads what was typed, and signs in if asked to). This script removes
// the form when a session is stored (the app then opens the dashboard), and registers the
// service worker that keeps the app shell for offline starts.
(() => {
  // The app shell is kept on this browser (sw.js): the dashboard opens offline. Registered
  // once the page has loaded, so the worker finds the app's files in the HTTP cache instead
  // of downloading them a second time beside the first load on a slow link.
  if ('serviceWorker' in navigator) {
    addEventListener('load', () => navigator.serviceWorker.register('/sw.js').catch(() => {}));
  }
  const boot = document.getElementById('boot');
  if (!boot) return;
  if (localStorage.getItem('pulse.session')) {
    boot.remove();
    return;
  }
})();
