using System.Net;
using System.Text;
using System.Text.Json;

namespace Tern.ChatLoad;

/// <summary>An account of the load and its session cookie's value.</summary>
internal sealed record LoadAccount(string Username, string SessionToken);

/// <summary>
/// Signs the load's accounts up (or in, when they exist) over the HTTP API, as the page does, and keeps their session
/// tokens in a file so that the next run against the same database skips the password hashing.
/// </summary>
internal static class Accounts
{
    private const string Password = "load-test-password";
    private const string SessionCookie = "tern_session";

    public static async Task<IReadOnlyList<LoadAccount>> GetAsync(ChatLoadOptions options)
    {
        Dictionary<string, string> kept = ReadSessions(options.Sessions);
        var accounts = new LoadAccount[options.Clients];
        var missing = new List<int>();
        for (int i = 0; i < accounts.Length; i++)
        {
            string username = options.Prefix + i;
            if (kept.TryGetValue(username, out string? token))
            {
                accounts[i] = new LoadAccount(username, token);
            }
            else
            {
                missing.Add(i);
            }
        }

        // Two at a time: each sign-up is one Argon2id hash (~100 ms of a core) and the nodes hash one per core.
        using var throttle = new SemaphoreSlim(2);
        await Task.WhenAll(missing.Select(async i =>
        {
            await throttle.WaitAsync();
            try
            {
                accounts[i] = await SignUpOrInAsync(options.SignUpTarget, options.Prefix + i);
            }
            finally
            {
                throttle.Release();
            }
        }));

        if (missing.Count > 0 && options.Sessions.Length > 0)
        {
            await File.WriteAllLinesAsync(options.Sessions, accounts.Select(account => $"{account.Username} {account.SessionToken}"));
        }

        return accounts;
    }

    private static Dictionary<string, string> ReadSessions(string path)
    {
        var sessions = new Dictionary<string, string>(StringComparer.Ordinal);
        if (path.Length > 0 && File.Exists(path))
        {
            foreach (string line in File.ReadAllLines(path))
            {
                string[] parts = line.Split(' ', 2);
                if (parts.Length == 2)
                {
                    sessions[parts[0]] = parts[1];
                }
            }
        }

        return sessions;
    }

    private static async Task<LoadAccount> SignUpOrInAsync(Uri site, string username)
    {
        var cookies = new CookieContainer();
        using var http = new HttpClient(new HttpClientHandler { CookieContainer = cookies, UseCookies = true })
        {
            BaseAddress = site,
            Timeout = TimeSpan.FromSeconds(30),
        };
        http.DefaultRequestHeaders.Add("Origin", site.GetLeftPart(UriPartial.Authority));
        // With a Content-Length: Tern answers a chunked body with 501, and PostAsJsonAsync streams.
        string body = JsonSerializer.Serialize(new Dictionary<string, string> { ["username"] = username, ["password"] = Password });
        for (int attempt = 0; ; attempt++)
        {
            using HttpResponseMessage signUp = await http.PostAsync("/api/signup", Json(body));
            HttpResponseMessage answer = signUp;
            using HttpResponseMessage? signIn = signUp.StatusCode == HttpStatusCode.Conflict
                ? await http.PostAsync("/api/login", Json(body))
                : null;
            answer = signIn ?? signUp;
            if (answer.StatusCode == HttpStatusCode.TooManyRequests && attempt < 5)
            {
                TimeSpan wait = answer.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
                Console.Error.WriteLine($"{username}: rate limited, waiting {wait.TotalSeconds:0} s (raise the Accounts limits on the nodes)");
                await Task.Delay(wait);
                continue;
            }

            if (!answer.IsSuccessStatusCode)
            {
                throw new InvalidOperationException(
                    $"Could not sign {username} up or in at {site}: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
            }

            string token = cookies.GetCookies(site)[SessionCookie]?.Value
                ?? throw new InvalidOperationException($"Signing {username} in at {site} set no {SessionCookie} cookie.");
            return new LoadAccount(username, token);
        }
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
