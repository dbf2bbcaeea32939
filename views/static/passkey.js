// Passkeys (WebAuthn) on our pages, with @simplewebauthn/browser (served as
// /static/vendor/simplewebauthn-browser.js): sign in with a passkey (a button, and the browser's
// autofill where it offers passkeys), the passkey step after the face, and registering a passkey
// on the account page. The server decides everything; this script only carries the ceremony.
(() => {
  const lib = window.SimpleWebAuthnBrowser;
  const say = (root, text) => {
    const box = root.querySelector('[data-passkey-status]');
    if (box) box.textContent = text;
  };
  const explain = (error) => {
    if (error && error.name === 'NotAllowedError') return 'The passkey prompt was closed or timed out. You can try again.';
    if (error && error.name === 'InvalidStateError') return 'This passkey is already registered.';
    return (error && error.message) || 'The passkey could not be used.';
  };
  const postJson = async (url, body) => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' });
    const data = await response.json().catch(() => ({}));
    if (!response.ok && !data.location) throw new Error(data.message || 'The server refused the passkey.');
    return data;
  };

  // Sign-in (login page or the passkey step): options -> navigator.credentials.get -> verify.
  for (const root of document.querySelectorAll('[data-passkey-signin]')) {
    const csrf = root.dataset.csrf;
    const button = root.querySelector('[data-passkey-button]');
    if (!lib || !lib.browserSupportsWebAuthn()) {
      if (button) button.hidden = true;
      say(root, 'This browser cannot use passkeys here.');
      continue;
    }
    const run = async (autofill) => {
      const options = await (await fetch(root.dataset.options, { headers: { accept: 'application/json' }, credentials: 'same-origin' })).json();
      const response = await lib.startAuthentication({ optionsJSON: options, useBrowserAutofill: autofill });
      say(root, 'Checking your passkey…');
      const data = await postJson(root.dataset.action, { csrf, response });
      window.location.assign(data.location);
    };
    if (button) {
      button.addEventListener('click', () => {
        button.disabled = true;
        say(root, 'Follow your browser\u2019s prompt to use a passkey.');
        run(false).catch((error) => {
          button.disabled = false;
          say(root, explain(error));
        });
      });
    }
    if (root.dataset.autofill === 'yes') {
      lib.browserSupportsWebAuthnAutofill().then((ok) => {
        if (ok) run(true).catch(() => undefined); // the user may ignore the suggestion
      });
    }
  }

  // Registration on the account page: name -> options -> navigator.credentials.create -> store.
  for (const root of document.querySelectorAll('[data-passkey-register]')) {
    const button = root.querySelector('[data-passkey-button]');
    if (!lib || !lib.browserSupportsWebAuthn()) {
      if (button) button.disabled = true;
      say(root, 'This browser cannot create passkeys here.');
      continue;
    }
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        const csrf = root.dataset.csrf;
        const name = (root.querySelector('[name=passkey-name]') || {}).value || '';
        const options = await postJson(root.dataset.options, { csrf });
        say(root, 'Follow your browser\u2019s prompt to create the passkey.');
        const response = await lib.startRegistration({ optionsJSON: options });
        const data = await postJson(root.dataset.action, { csrf, name, response });
        if (Array.isArray(data.recoveryCodes)) {
          // A first second factor came with recovery codes: shown once, here, before moving on.
          const list = root.querySelector('[data-recovery-list]');
          for (const code of data.recoveryCodes) {
            const item = document.createElement('li');
            item.textContent = code;
            list.appendChild(item);
          }
          root.querySelector('[data-recovery-codes]').hidden = false;
          say(root, 'Your passkey was added.');
          return;
        }
        window.location.assign(data.location);
      } catch (error) {
        button.disabled = false;
        say(root, explain(error));
      }
    });
  }
})();
