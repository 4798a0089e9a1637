/*
 * Offline stand-in for the Cloud Storage rules runtime that firebase-tools
 * downloads on first use (cloud-storage-rules-runtime-*.jar).
 *
 * The Storage emulator (firebase-tools lib/emulator/storage/rules/runtime.js)
 * starts it as `java -Duser.language=en -jar <jar> serve` when the env
 * variable STORAGE_EMULATOR_BINARY_PATH points at this jar, and talks JSON
 * lines over stdin/stdout:
 *
 *  - start-up: the emulator waits until the runtime prints a message whose
 *    "id" is -1; only then does it send anything.
 *  - requests: one JSON object per line, {"action":...,"context":{...},"id":N}
 *      load_ruleset  expects {"id":N,"status":"ok","result":{"rulesVersion":V},
 *                             "errors":[],"warnings":[]}
 *      verify        expects {"id":N,"status":"ok","result":{"permit":B},
 *                             "errors":[],"warnings":[]}
 *    A response must not contain a "context" key (that would ask the emulator
 *    to fetch a Firestore document for the rules).
 *  - every response is parsed from a single stdout chunk: one line, flushed.
 *
 * Rules are not evaluated. The GCS JSON API routes (/storage/v1, /upload/...)
 * never consult rules; only the Firebase SDK routes (/v0/...) do, and for
 * those this runtime answers "deny" (matching the project's deny-all
 * storage.rules), or "allow" when RULES_RUNTIME_PERMIT=true.
 *
 * No libraries: the requests are produced by JSON.stringify (no whitespace,
 * keys in insertion order: action first, id last), so string operations are
 * enough.
 */
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

public final class RulesRuntime {
    private RulesRuntime() {}

    public static void main(String[] args) throws Exception {
        boolean permit = "true".equalsIgnoreCase(System.getenv("RULES_RUNTIME_PERMIT"));
        PrintStream out = new PrintStream(System.out, false, "UTF-8");
        BufferedReader in = new BufferedReader(
                new InputStreamReader(System.in, StandardCharsets.UTF_8));

        // Ready signal: the emulator's start() resolves on a message with id -1.
        send(out, "{\"id\":-1,\"status\":\"ok\",\"result\":{},\"errors\":[],\"warnings\":[]}");

        String line;
        while ((line = in.readLine()) != null) {
            line = line.trim();
            if (line.isEmpty()) {
                continue;
            }
            Long id = topLevelId(line);
            if (id == null) {
                continue; // not a request: nothing to answer
            }
            String action = stringField(line, "action");
            String result;
            if ("load_ruleset".equals(action)) {
                result = "{\"rulesVersion\":" + rulesVersion(line) + "}";
            } else if ("verify".equals(action)) {
                result = "{\"permit\":" + permit + "}";
            } else {
                result = "{}";
            }
            send(out, "{\"id\":" + id + ",\"status\":\"ok\",\"result\":" + result
                    + ",\"errors\":[],\"warnings\":[]}");
        }
    }

    private static void send(PrintStream out, String json) {
        out.print(json);
        out.print('\n');
        out.flush();
    }

    /* The request's own "id" is its last key; nested objects may carry user
     * keys named "id" (custom metadata), but never with an integer value
     * directly after the colon, and the top-level one is the last one. */
    static Long topLevelId(String line) {
        int from = line.length();
        while (true) {
            int at = line.lastIndexOf("\"id\":", from);
            if (at < 0) {
                return null;
            }
            char before = at > 0 ? line.charAt(at - 1) : '{';
            if (before == '{' || before == ',') {
                int i = at + 5;
                while (i < line.length() && line.charAt(i) == ' ') {
                    i++;
                }
                int start = i;
                if (i < line.length() && line.charAt(i) == '-') {
                    i++;
                }
                while (i < line.length() && Character.isDigit(line.charAt(i))) {
                    i++;
                }
                if (i > start && !(i == start + 1 && line.charAt(start) == '-')) {
                    try {
                        return Long.valueOf(line.substring(start, i));
                    } catch (NumberFormatException e) {
                        return null;
                    }
                }
            }
            if (at == 0) {
                return null;
            }
            from = at - 1;
        }
    }

    /* First occurrence of "key":"value" (action is the first key). */
    static String stringField(String line, String key) {
        String needle = "\"" + key + "\":\"";
        int at = line.indexOf(needle);
        if (at < 0) {
            return null;
        }
        int start = at + needle.length();
        int end = line.indexOf('"', start);
        return end < 0 ? null : line.substring(start, end);
    }

    /* rules_version = '2' (or "2", escaped in JSON as \"2\") in the source. */
    static int rulesVersion(String line) {
        int at = line.indexOf("rules_version");
        if (at < 0) {
            return 1;
        }
        int end = Math.min(line.length(), at + 40);
        for (int i = at + 13; i < end; i++) {
            char c = line.charAt(i);
            if (c == '2') {
                return 2;
            }
            if (c == ';' || c == '\\' && i + 1 < end && line.charAt(i + 1) == 'n') {
                break;
            }
        }
        return 1;
    }
}
