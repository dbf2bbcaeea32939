// Front-channel logout page: once every relying party's logout frame has loaded (the window's
// load event waits for iframes), or after a few seconds at most, continue to where the sign-out
// leads (the relying party's post-logout page). Without script the Continue link does the same.
(() => {
  const link = document.querySelector('[data-frontchannel-continue]');
  if (!link) return;
  let gone = false;
  const go = () => {
    if (gone) return;
    gone = true;
    window.location.assign(link.href);
  };
  window.addEventListener('load', go);
  setTimeout(go, 5000);
})();
