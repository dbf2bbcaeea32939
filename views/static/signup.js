// Sign-up page: says whether the username is free before the camera step (the server counts
// each check against the same per-address budget as a sign-up attempt). The sign-up itself
// checks again: a free answer is not a reservation.
(() => {
  const form = document.querySelector('[data-signup][data-check-username]');
  if (!form) return;
  const input = form.querySelector('#username');
  const status = form.querySelector('[data-username-status]');
  const csrf = form.querySelector('input[name=csrf]').value;
  let asked = '';
  const check = async () => {
    const username = input.value.trim();
    if (!username || username === asked || !input.checkValidity()) {
      if (!username || !input.checkValidity()) status.textContent = '';
      return;
    }
    asked = username;
    try {
      const response = await fetch(form.dataset.checkUsername, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ csrf, username }),
        credentials: 'same-origin',
      });
      const data = await response.json().catch(() => ({}));
      if (asked !== username) return;
      if (response.ok) {
        status.textContent = data.available ? 'This username is free.' : 'This username is taken. Please choose another.';
        status.dataset.available = data.available ? 'yes' : 'no';
        input.setCustomValidity(data.available ? '' : 'This username is taken.');
      } else {
        status.textContent = data.message || '';
        delete status.dataset.available;
        input.setCustomValidity('');
      }
    } catch {
      status.textContent = '';
    }
  };
  input.addEventListener('change', check);
  input.addEventListener('blur', check);
  input.addEventListener('input', () => {
    input.setCustomValidity('');
    status.textContent = '';
    delete status.dataset.available;
  });
})();
