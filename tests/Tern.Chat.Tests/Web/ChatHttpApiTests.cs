using System.Net;
using System.Text;
using System.Text.Json;
using Tern.Chat.Web;

namespace Tern.Chat.Tests.Web;

/// <summary>The HTTP API over real sockets, with a real SQLite file.</summary>
public sealed class ChatHttpApiTests : WebServerTest
{
    [Fact]
    public async Task Sign_up_answers_201_with_the_account_and_a_session_cookie()
    {
        using HttpResponseMessage response = await Server.PostAsync("/api/signup", new { username = "Alice", password = "password1", displayName = "Alice A." });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        JsonElement body = await WebTestServer.JsonAsync(response);
        Assert.Equal("Alice", body.GetProperty("username").GetString());
        Assert.Equal("Alice A.", body.GetProperty("displayName").GetString());

        string cookie = WebTestServer.SetCookie(response);
        Assert.Matches("^tern_session=[A-Za-z0-9_-]{43}; ", cookie);
        string[] attributes = cookie.Split("; ")[1..];
        Assert.Contains("HttpOnly", attributes);
        Assert.Contains("SameSite=Lax", attributes);
        Assert.Contains("Path=/", attributes);
        Assert.Contains("Max-Age=2592000", attributes); // 30 days
        Assert.DoesNotContain("Secure", attributes);
    }

    [Fact]
    public async Task The_cookie_is_secure_and_the_own_origin_https_when_served_over_tls()
    {
        await using WebTestServer tls = await WebTestServer.StartAsync(o => o.SecureCookies = true);

        using HttpResponseMessage plain = await tls.PostAsync("/api/signup", new { username = "alice", password = "password1" });
        Assert.Equal(HttpStatusCode.Forbidden, plain.StatusCode); // the page is https://…, so http://… is another origin

        using HttpResponseMessage response = await tls.PostAsync("/api/signup", new { username = "alice", password = "password1" }, origin: $"https://127.0.0.1:{tls.Port}");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Contains("Secure", WebTestServer.SetCookie(response).Split("; "));
    }

    [Fact]
    public async Task The_session_is_known_with_the_cookie_and_not_without()
    {
        string cookie = await Server.SignUpAsync("alice");

        using HttpResponseMessage signedIn = await Server.GetAsync("/api/session", cookie);
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        Assert.Equal("alice", (await WebTestServer.JsonAsync(signedIn)).GetProperty("username").GetString());
        Assert.Equal(cookie, WebTestServer.CookiePair(signedIn)); // the cookie's lifetime slides along

        using HttpResponseMessage anonymous = await Server.GetAsync("/api/session");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        JsonElement error = await WebTestServer.JsonAsync(anonymous);
        Assert.Equal("no_session", error.GetProperty("error").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));

        using HttpResponseMessage forged = await Server.GetAsync("/api/session", "tern_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        Assert.Contains("Max-Age=0", WebTestServer.SetCookie(forged), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Log_in_answers_200_with_a_new_session()
    {
        string first = await Server.SignUpAsync("alice");

        using HttpResponseMessage response = await Server.PostAsync("/api/login", new { username = "ALICE", password = "password1" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("alice", (await WebTestServer.JsonAsync(response)).GetProperty("username").GetString());
        string second = WebTestServer.CookiePair(response);
        Assert.NotEqual(first, second);
        using HttpResponseMessage session = await Server.GetAsync("/api/session", second);
        Assert.Equal(HttpStatusCode.OK, session.StatusCode);
    }

    [Fact]
    public async Task A_wrong_password_and_an_unknown_name_get_the_same_401()
    {
        await Server.SignUpAsync("alice");

        using HttpResponseMessage wrong = await Server.PostAsync("/api/login", new { username = "alice", password = "password2" });
        using HttpResponseMessage unknown = await Server.PostAsync("/api/login", new { username = "nobody", password = "password2" });

        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        string wrongBody = await wrong.Content.ReadAsStringAsync();
        Assert.Equal(wrongBody, await unknown.Content.ReadAsStringAsync());
        Assert.Equal("bad_credentials", JsonDocument.Parse(wrongBody).RootElement.GetProperty("error").GetString());
        Assert.False(wrong.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Failed_log_ins_for_a_name_are_throttled_with_retry_after()
    {
        await Server.SignUpAsync("alice");
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage failed = await Server.PostAsync("/api/login", new { username = "alice", password = "wrong-password" });
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }

        using HttpResponseMessage limited = await Server.PostAsync("/api/login", new { username = "alice", password = "password1" });

        Assert.Equal((HttpStatusCode)429, limited.StatusCode);
        int seconds = int.Parse(Assert.Single(limited.Headers.GetValues("Retry-After")), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(seconds, 1, 180);
        JsonElement error = await WebTestServer.JsonAsync(limited);
        Assert.Equal("rate_limited", error.GetProperty("error").GetString());
        Assert.Contains($"{seconds} s", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_address_creates_only_a_few_accounts_an_hour_however_slowly_it_tries()
    {
        // The attempt limit (20 a minute) alone let one address farm 1,200 accounts an hour.
        await using WebTestServer strict = await WebTestServer.StartAsync(o => o.Accounts.SignUpLimit = 3);
        await strict.SignUpAsync("farm0");
        await strict.SignUpAsync("farm1");

        // A taken name does not spend the allowance: only accounts made count.
        using (HttpResponseMessage taken = await strict.PostAsync("/api/signup", new { username = "farm0", password = "password1" }))
        {
            Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
        }

        await strict.SignUpAsync("farm2");

        using HttpResponseMessage limited = await strict.PostAsync("/api/signup", new { username = "farm3", password = "password1" });

        Assert.Equal((HttpStatusCode)429, limited.StatusCode);
        int seconds = int.Parse(Assert.Single(limited.Headers.GetValues("Retry-After")), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(seconds, 60, 3600); // One account more every 20 minutes at 3 an hour.
        JsonElement error = await WebTestServer.JsonAsync(limited);
        Assert.Equal("rate_limited", error.GetProperty("error").GetString());
        Assert.Contains("accounts", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        // Signing in to the accounts made is not held back.
        await strict.LogInAsync("farm1");
    }

    [Fact]
    public async Task Attempts_from_one_address_are_throttled_across_sign_up_and_log_in()
    {
        await using WebTestServer strict = await WebTestServer.StartAsync(o => o.Accounts.AddressAttemptLimit = 3);
        await strict.SignUpAsync("alice");
        (await strict.PostAsync("/api/login", new { username = "alice", password = "nope-nope" })).Dispose();
        await strict.LogInAsync("alice");

        using HttpResponseMessage limited = await strict.PostAsync("/api/signup", new { username = "bob", password = "password1" });

        Assert.Equal((HttpStatusCode)429, limited.StatusCode);
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Log_out_clears_the_cookie_and_ends_the_session()
    {
        string cookie = await Server.SignUpAsync("alice");

        using HttpResponseMessage response = await Server.PostAsync("/api/logout", new { everywhere = false }, cookie);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        string cleared = WebTestServer.SetCookie(response);
        Assert.StartsWith("tern_session=;", cleared, StringComparison.Ordinal);
        Assert.Contains("Max-Age=0", cleared.Split("; "));
        using HttpResponseMessage after = await Server.GetAsync("/api/session", cookie);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task Log_out_without_a_body_or_a_session_is_a_204_too()
    {
        string cookie = await Server.SignUpAsync("alice");
        using HttpResponseMessage noBody = await Server.PostAsync("/api/logout", body: null, cookie);
        Assert.Equal(HttpStatusCode.NoContent, noBody.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Server.GetAsync("/api/session", cookie)).StatusCode);

        using HttpResponseMessage noSession = await Server.PostAsync("/api/logout", body: null);
        Assert.Equal(HttpStatusCode.NoContent, noSession.StatusCode);
    }

    [Fact]
    public async Task Log_out_everywhere_revokes_the_other_sessions_and_tells_the_listener()
    {
        string laptop = await Server.SignUpAsync("alice");
        string phone = await Server.LogInAsync("alice");
        string bob = await Server.SignUpAsync("bob");

        using HttpResponseMessage response = await Server.PostAsync("/api/logout", new { everywhere = true }, phone);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Server.GetAsync("/api/session", laptop)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Server.GetAsync("/api/session", phone)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Server.GetAsync("/api/session", bob)).StatusCode);
        Assert.Null(Assert.Single(Server.Revocations).TokenHash);
    }

    [Theory]
    [InlineData("http://evil.example")]
    [InlineData("null")]
    [InlineData("http://127.0.0.1:1")] // same host, other port: another origin
    [InlineData(null)] // browsers always send Origin on POST; a request without one is not from the page
    public async Task A_post_from_another_origin_is_refused(string? origin)
    {
        string cookie = await Server.SignUpAsync("alice");

        using HttpResponseMessage login = await Server.PostAsync("/api/login", new { username = "alice", password = "password1" }, origin: origin);
        using HttpResponseMessage logout = await Server.PostAsync("/api/logout", new { everywhere = true }, cookie, origin: origin);

        Assert.Equal(HttpStatusCode.Forbidden, login.StatusCode);
        Assert.Equal("bad_origin", (await WebTestServer.JsonAsync(login)).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, logout.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Server.GetAsync("/api/session", cookie)).StatusCode); // still signed in
    }

    [Fact]
    public async Task A_configured_origin_is_allowed()
    {
        await using WebTestServer server = await WebTestServer.StartAsync(o => o.AllowedOrigins = ["https://chat.example.com"]);
        using HttpResponseMessage response = await server.PostAsync("/api/signup", new { username = "alice", password = "password1" }, origin: "https://chat.example.com");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task Sign_up_refusals_carry_their_codes()
    {
        await Server.SignUpAsync("alice");

        await AssertErrorAsync(new { username = "a1ice", password = "password1" }, 409, "username_taken");
        await AssertErrorAsync(new { username = "aIice", password = "password1" }, 409, "username_taken");
        await AssertErrorAsync(new { username = "\u0430lice", password = "password1" }, 400, "bad_username"); // Cyrillic а
        await AssertErrorAsync(new { username = "al\u200Bice", password = "password1" }, 400, "bad_username");
        await AssertErrorAsync(new { username = "carol", password = "short" }, 400, "bad_password");
        await AssertErrorAsync(new { username = "carol", password = "password1", displayName = "\u202Eevil" }, 400, "bad_display_name");
        await AssertErrorAsync(new { username = "carol" }, 400, "bad_request");
        await AssertErrorAsync(new { username = 42, password = "password1" }, 400, "bad_request");
    }

    [Theory]
    [InlineData("not json", "application/json")]
    [InlineData("[1,2]", "application/json")]
    [InlineData("null", "application/json")]
    [InlineData("{\"username\":\"alice\",\"password\":\"password1\"}", "text/plain")] // a form-like post: not the page
    [InlineData("", "application/json")]
    public async Task Bodies_that_are_not_a_json_object_get_400(string body, string contentType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/signup") { Content = new StringContent(body, Encoding.UTF8, contentType) };
        request.Headers.Add("Origin", Server.Origin);

        using HttpResponseMessage response = await Server.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("bad_request", (await WebTestServer.JsonAsync(response)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_body_over_16_kib_gets_413()
    {
        using HttpResponseMessage response = await Server.PostAsync("/api/signup", new { username = "alice", password = new string('x', ChatHttpApi.MaxBodyBytes) });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Wrong_methods_and_unknown_paths_are_refused()
    {
        using HttpResponseMessage get = await Server.GetAsync("/api/login");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        Assert.Equal("POST", Assert.Single(get.Content.Headers.Allow));

        using HttpResponseMessage post = await Server.PostAsync("/api/session", new { });
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);

        using HttpResponseMessage unknown = await Server.GetAsync("/api/nothing");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("not_found", (await WebTestServer.JsonAsync(unknown)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task The_password_is_never_stored_in_clear()
    {
        const string password = "Zebra-Quartz-7741";
        await Server.SignUpAsync("alice", password);
        await Server.LogInAsync("alice", password);

        // Everything SQLite wrote: the database, its write-ahead log and shared memory.
        byte[][] needles = [Encoding.UTF8.GetBytes(password), Encoding.Unicode.GetBytes(password)];
        string[] files = Directory.GetFiles(Server.DatabaseDirectory);
        Assert.Contains(files, f => f.EndsWith("chat.db", StringComparison.Ordinal));
        long total = 0;
        foreach (string file in files)
        {
            byte[] bytes = await ReadSharedAsync(file);
            total += bytes.Length;
            foreach (byte[] needle in needles)
            {
                Assert.Equal(-1, bytes.AsSpan().IndexOf(needle));
            }
        }

        Assert.True(total > 0);
        // The test can fail: the name, which is stored in clear, is found the same way.
        Assert.True(await ContainsAsync(files, Encoding.UTF8.GetBytes("alice")));
    }

    private static async Task<bool> ContainsAsync(string[] files, byte[] needle)
    {
        foreach (string file in files)
        {
            if ((await ReadSharedAsync(file)).AsSpan().IndexOf(needle) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    private static async Task<byte[]> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    private async Task AssertErrorAsync(object body, int status, string code)
    {
        using HttpResponseMessage response = await Server.PostAsync("/api/signup", body);
        Assert.Equal(status, (int)response.StatusCode);
        JsonElement error = await WebTestServer.JsonAsync(response);
        Assert.Equal(code, error.GetProperty("error").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
    }
}
