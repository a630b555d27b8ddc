// Passkeys (WebAuthn) for the forms marked data-passkey: the sign-in page, the
// second step and the Security page. The forms are hidden in the HTML and shown
// here only when the browser has WebAuthn, so without this script every page
// still works with a password and a code. No inline script anywhere: the CSP
// allows scripts from this site only.
(() => {
  'use strict';

  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  const GENERIC = 'Something went wrong. Try again.';

  function toBuffer(base64url) {
    const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  }

  function toBase64url(buffer) {
    let binary = '';
    for (const byte of new Uint8Array(buffer)) {
      binary += String.fromCharCode(byte);
    }
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map((item) => ({ ...item, id: toBuffer(item.id) }));
  }

  function creationOptions(options) {
    return {
      ...options,
      challenge: toBuffer(options.challenge),
      user: { ...options.user, id: toBuffer(options.user.id) },
      excludeCredentials: descriptors(options.excludeCredentials),
    };
  }

  function requestOptions(options) {
    return {
      ...options,
      challenge: toBuffer(options.challenge),
      allowCredentials: descriptors(options.allowCredentials),
    };
  }

  // The JSON py_webauthn reads (WebAuthn Level 3's RegistrationResponseJSON and
  // AuthenticationResponseJSON), built by hand for browsers without toJSON().
  function credentialJSON(credential) {
    const response = credential.response;
    const json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (credential.authenticatorAttachment) {
      json.authenticatorAttachment = credential.authenticatorAttachment;
    }
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      if (response.userHandle) {
        json.response.userHandle = toBase64url(response.userHandle);
      }
    }
    return json;
  }

  async function fetchOptions(form, url) {
    const answer = await fetch(url || form.dataset.optionsUrl, {
      method: 'POST',
      body: new FormData(form),
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    let data;
    try {
      data = await answer.json();
    } catch (error) {
      throw new Error(answer.status === 429 ? 'Too many attempts. Wait a minute and try again.' : GENERIC);
    }
    if (data.redirect) {
      window.location.assign(data.redirect);
      return null;
    }
    if (data.error || !answer.ok) {
      throw new Error(data.error || GENERIC);
    }
    return data;
  }

  function explain(error) {
    if (error.name === 'NotAllowedError') {
      return 'The passkey request was cancelled or timed out. Try again.';
    }
    if (error.name === 'InvalidStateError') {
      return 'This device already holds a passkey for your account.';
    }
    return error.message || GENERIC;
  }

  function say(status, message) {
    if (!status) {
      return;
    }
    status.textContent = message;
    status.hidden = !message;
  }

  async function ceremony(form) {
    const status = form.querySelector('.passkey-status');
    const button = form.querySelector('button[type="submit"]');
    say(status, '');
    button.disabled = true;
    try {
      const options = await fetchOptions(form);
      if (!options) {
        return;
      }
      const credential = form.dataset.passkey === 'register'
        ? await navigator.credentials.create({ publicKey: creationOptions(options) })
        : await navigator.credentials.get({ publicKey: requestOptions(options) });
      form.querySelector('input[name$="credential"]').value = JSON.stringify(credentialJSON(credential));
      // The password was checked with the options; it need not travel twice.
      for (const input of form.querySelectorAll('input[type="password"]')) {
        input.value = '';
      }
      form.submit();
    } catch (error) {
      say(status, explain(error));
      button.disabled = false;
    }
  }

  // "Use a passkey instead of a code": the answer goes into the form's hidden
  // current_passkey field, and the form is sent with the password as usual.
  async function confirm(button) {
    const form = button.form;
    const status = button.parentElement.querySelector('.passkey-status');
    button.disabled = true;
    try {
      const options = await fetchOptions(form, button.dataset.optionsUrl);
      if (!options) {
        return;
      }
      const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
      form.querySelector('input[name$="current_passkey"]').value = JSON.stringify(credentialJSON(credential));
      say(status, 'Passkey confirmed: now enter your password.');
    } catch (error) {
      say(status, explain(error));
      button.disabled = false;
    }
  }

  for (const button of document.querySelectorAll('button[data-passkey-confirm]')) {
    button.addEventListener('click', () => confirm(button));
  }
  for (const form of document.querySelectorAll('form[data-passkey]')) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      ceremony(form);
    });
  }
  for (const element of document.querySelectorAll('.passkey-form')) {
    element.hidden = false;
  }
})();
