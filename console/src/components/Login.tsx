import { useState } from 'preact/hooks';

export function Login({ onSubmit, error, busy }: { onSubmit: (token: string) => void; error: string | null; busy: boolean }) {
  const [token, setToken] = useState('');
  return (
    <div class="login-wrap">
      <form
        class="card login"
        data-testid="login-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (token.trim()) onSubmit(token.trim());
        }}
      >
        <h1>Sign in</h1>
        <p class="muted">
          This dtmd requires a bearer token. Paste a token from its tokens file (role <em>reader</em> to look, <em>admin</em> to act).
        </p>
        <label>
          Token
          <input
            type="password"
            data-testid="login-token"
            autocomplete="current-password"
            value={token}
            onInput={(e) => setToken(e.currentTarget.value)}
            autofocus
          />
        </label>
        {error && (
          <div class="inline-error" role="alert" data-testid="login-error">
            {error}
          </div>
        )}
        <button class="btn btn-primary" type="submit" data-testid="login-submit" disabled={busy || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}
