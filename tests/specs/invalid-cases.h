/* Invalid specs and the exact error each must give. Parsed as "t.yaml"
 * with base folder /base. B is a valid start the cases add to (lines 1-3). */
#define B "berth: 1\nname: app\nimage: [{url: ./a.tar}]\n"
#define SHA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define NAME_RULE "expected a name matching [a-z0-9][a-z0-9-]{0,62}"
#define SIZE_RULE "expected a size like 512MiB (units B K KiB M MiB G GiB)"
#define PORT_RULE "expected a port like [host-ip:]host-port:container-port[/udp] (ports 1-65535)"
#define TOP_RULE "expected a mapping of spec keys (berth, name, image, ...)"
#define SVC "services:\n  a: {command: [x], "

struct invalid_case {
        const char *yaml;
        const char *msg;
        int kind; /* 0 = BERTH_E_INVALID */
};

static const struct invalid_case invalid_cases[] = {
        /* the document */
        { "", "t.yaml:1:1: " TOP_RULE ", got an empty document" },
        { "- a\n", "t.yaml:1:1: " TOP_RULE ", got a list" },
        { "hello\n", "t.yaml:1:1: " TOP_RULE ", got \"hello\"" },
        { "berth: 1\n---\nname: x\n", "t.yaml:2:1: expected one YAML document, found a second one" },
        { B "? [a]\n: b\n", "t.yaml:4:3: expected a plain key, got a list as key" },
        { B "x: *nope\n", "t.yaml:4:4: x: alias *nope refers to no anchor defined before it" },
        { B "name2: !foo x\n", "t.yaml:4:8: name2: unsupported YAML tag \"!foo\"" },
        { "berth: 1\nname: a\nname: b\n", "t.yaml:3:1: name: duplicate key (first at line 2, column 1)" },
        { B "imgae: []\n", "t.yaml:4:1: imgae: unknown key; did you mean \"image\"?" },
        { B "frobnicate: 1\n",
          "t.yaml:4:1: frobnicate: unknown key; expected one of berth, name, version, description, extends, image, "
          "workdir, mounts, env, user, resources, network, ports, security, services, repos, final" },
        /* berth, name, version, extends */
        { "name: app\nimage: [{url: ./a.tar}]\n", "t.yaml:1:1: berth: required key is missing" },
        { "berth: 2\nname: app\n", "t.yaml:1:8: berth: expected 1 (the only schema version), got \"2\"" },
        { "berth: 1\nimage: [{url: ./a.tar}]\n", "t.yaml:1:1: name: required key is missing" },
        { "berth: 1\nname: App\n", "t.yaml:2:7: name: " NAME_RULE ", got \"App\"" },
        { "berth: 1\nname: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
          "t.yaml:2:7: name: " NAME_RULE ", got \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"" },
        { "berth: 1\nname: \"a\\0b\"\n", "t.yaml:2:7: name: " NAME_RULE ", got text with a NUL byte" },
        { B "version: 1.4\n", "t.yaml:4:10: version: expected a semantic version like 1.4.0, got \"1.4\"" },
        { B "version: 1.04.0\n", "t.yaml:4:10: version: expected a semantic version like 1.4.0, got \"1.04.0\"" },
        { B "extends: base\n",
          "t.yaml:4:10: extends: expected name@range like base-debian@^2.1, ~1.2.3 or 1.4.0, got \"base\"" },
        { B "extends: base@^x\n",
          "t.yaml:4:10: extends: expected name@range like base-debian@^2.1, ~1.2.3 or 1.4.0, got \"base@^x\"" },
        { "berth: 1\nname: app\nextends: base-debian@^2.1\n",
          "t.yaml:3:10: extends: cannot resolve \"base-debian@^2.1\": no spec repository is configured (--repo, "
          "BERTH_SPEC_REPOS or repos:)",
          BERTH_E_NOTFOUND },
        /* image */
        { "berth: 1\nname: app\n", "t.yaml:1:1: image: required key is missing" },
        { "berth: 1\nname: app\nimage: []\n", "t.yaml:3:8: image: expected a list of layers, got an empty list" },
        { "berth: 1\nname: app\nimage: debian.tar\n",
          "t.yaml:3:8: image: expected a list of layers, got \"debian.tar\"" },
        { "berth: 1\nname: app\nimage: [{name: python}]\n", "t.yaml:3:9: image[0].url: required key is missing (or oci, oci-archive, docker-archive)" },
        { "berth: 1\nname: app\nimage: [{url: http://h/a.tar}]\n",
          "t.yaml:3:9: image[0].sha256: required key is missing (http and https layers need a digest)" },
        { "berth: 1\nname: app\nimage: [{url: ./a.tar, sha256: abc}]\n",
          "t.yaml:3:32: image[0].sha256: expected a sha256 digest of 64 hex digits, got \"abc\"" },
        { "berth: 1\nname: app\nimage: [{url: ftp://h/a.tar}]\n",
          "t.yaml:3:15: image[0].url: expected an http, https or file URL or a path, got \"ftp://h/a.tar\"" },
        { "berth: 1\nname: app\nimage: [{url: https:///a.tar, sha256: " SHA "}]\n",
          "t.yaml:3:15: image[0].url: expected an http(s) URL with a host, got \"https:///a.tar\"" },
        { "berth: 1\nname: app\nimage: [{url: \"https://h/a b.tar\", sha256: " SHA "}]\n",
          "t.yaml:3:15: image[0].url: expected an http, https or file URL or a path, got \"https://h/a b.tar\"" },
        { "berth: 1\nname: app\nimage: [{url: \"./a\\tb.tar\"}]\n",
          "t.yaml:3:15: image[0].url: expected an http, https or file URL or a path, got \"./a\\x09b.tar\"" },
        { "berth: 1\nname: app\nimage: [{url: file://a.tar}]\n",
          "t.yaml:3:15: image[0].url: expected a file URL with an absolute path like file:///srv/x.tar, got "
          "\"file://a.tar\"" },
        { "berth: 1\nname: app\nimage: [{url: ./a.tar, check: [x]}]\n",
          "t.yaml:3:31: image[0].check: needs a version to compare the output with" },
        { "berth: 1\nname: app\nimage: [{url: ./a.tar, sha265: x}]\n",
          "t.yaml:3:24: image[0].sha265: unknown key; did you mean \"sha256\"?" },
        { "berth: 1\nname: app\nimage: [{url: ./a.tar, name: Python}]\n",
          "t.yaml:3:30: image[0].name: " NAME_RULE ", got \"Python\"" },
        /* workdir, mounts */
        { B "workdir: workspace\n", "t.yaml:4:10: workdir: expected an absolute path without .., got \"workspace\"" },
        { B "workdir: /a/../b\n", "t.yaml:4:10: workdir: expected an absolute path without .., got \"/a/../b\"" },
        { B "mounts: [{target: /x}]\n",
          "t.yaml:4:10: mounts[0]: expected source (bind mount), volume (named volume) or type: tmpfs" },
        { B "mounts: [{type: nfs, target: /x}]\n",
          "t.yaml:4:17: mounts[0].type: expected bind, tmpfs or volume, got \"nfs\"" },
        { B "mounts: [{type: tmpfs, source: ., target: /x}]\n",
          "t.yaml:4:32: mounts[0].source: only allowed in a bind mount" },
        { B "mounts: [{source: ., target: /x, size: 1MiB}]\n",
          "t.yaml:4:40: mounts[0].size: only allowed in a tmpfs mount" },
        { B "mounts: [{type: volume, target: /x}]\n",
          "t.yaml:4:10: mounts[0].volume: required key is missing (for a volume mount)" },
        { B "mounts: [{source: ., target: x}]\n",
          "t.yaml:4:30: mounts[0].target: expected an absolute path without .., got \"x\"" },
        { B "mounts:\n  - {source: ., target: /x}\n  - {volume: v, target: /x/}\n",
          "t.yaml:6:5: mounts[1].target: /x is already the target of mounts[0]" },
        { B "mounts: [{source: ., target: /x, read_only: yes}]\n",
          "t.yaml:4:45: mounts[0].read_only: expected true or false, got \"yes\"" },
        { B "mounts: [{volume: My, target: /x}]\n", "t.yaml:4:19: mounts[0].volume: " NAME_RULE ", got \"My\"" },
        /* env, user */
        { B "env: {1X: a}\n",
          "t.yaml:4:7: env.1X: expected a variable name matching [A-Za-z_][A-Za-z0-9_]*, got \"1X\"" },
        { B "env: {A: {b: c}}\n",
          "t.yaml:4:10: env.A: expected a string (quote it: \"\" for empty), got a mapping" },
        { B "env: [A=b]\n", "t.yaml:4:6: env: expected a mapping of NAME: value, got a list" },
        { B "env: {A: \"${BERTH_TEST_UNSET}\"}\n",
          "t.yaml:4:10: env.A: environment variable BERTH_TEST_UNSET is not set (write ${BERTH_TEST_UNSET:-} to "
          "allow it unset)" },
        { B "env: {A: \"${1X}\"}\n",
          "t.yaml:4:10: env.A: expected ${NAME} or ${NAME:-default} after `$`, got \"${1X}\"" },
        { B "user: Root User\n", "t.yaml:4:7: user: expected a user like 1000, 1000:1000 or postgres, got \"Root User\"" },
        /* resources */
        { B "resources: {memory: lots}\n", "t.yaml:4:21: resources.memory: " SIZE_RULE ", got \"lots\"" },
        { B "resources: {memory: 512mb}\n", "t.yaml:4:21: resources.memory: " SIZE_RULE ", got \"512mb\"" },
        { B "resources: {memory: \"${BERTH_TEST_MEM}\"}\n",
          "t.yaml:4:21: resources.memory: " SIZE_RULE ", got \"lots\"" },
        { B "resources: {memory: 100K}\n", "t.yaml:4:21: resources.memory: expected a size of at least 1MiB, got \"100K\"" },
        { B "resources: {cpus: 0}\n",
          "t.yaml:4:19: resources.cpus: expected a number of CPUs above 0 like 1.5 (at most 3 decimals, up to 1024), "
          "got \"0\"" },
        { B "resources: {cpus: 1.2345}\n",
          "t.yaml:4:19: resources.cpus: expected a number of CPUs above 0 like 1.5 (at most 3 decimals, up to 1024), "
          "got \"1.2345\"" },
        { B "resources: {pids: 0}\n", "t.yaml:4:19: resources.pids: expected a whole number from 1 to 4194304, got \"0\"" },
        { B "resources: {nofile: many}\n",
          "t.yaml:4:21: resources.nofile: expected a whole number from 1 to 1073741816, got \"many\"" },
        { B "resources: {memroy: 1GiB}\n", "t.yaml:4:13: resources.memroy: unknown key; did you mean \"memory\"?" },
        /* network, ports */
        { B "network: bridge\n", "t.yaml:4:10: network: expected none, private or host, got \"bridge\"" },
        { B "ports: [\"8080\"]\n", "t.yaml:4:9: ports[0]: " PORT_RULE ", got \"8080\"" },
        { B "ports: [\"70000:80\"]\n", "t.yaml:4:9: ports[0]: " PORT_RULE ", got \"70000:80\"" },
        { B "ports: [\"1.2.3:80:80\"]\n", "t.yaml:4:9: ports[0]: " PORT_RULE ", got \"1.2.3:80:80\"" },
        { B "ports: [{a: b}]\n", "t.yaml:4:9: ports[0]: " PORT_RULE ", got a mapping" },
        { B "ports: [\"8080:80\", \"127.0.0.1:8080:81\"]\n",
          "t.yaml:4:20: ports[1]: host port 8080 is already published by ports[0]" },
        { B "ports: [\"8080:80\"]\n" SVC "ports: [\"0.0.0.0:8080:8080\"]}\n",
          "t.yaml:6:29: services.a.ports[0]: host port 8080 is already published by ports[0]" },
        { B "services:\n  a: {command: [x], ports: [\"::1:53:53\"]}\n  b: {command: [x], ports: [\"[::1]:53:53\"]}\n",
          "t.yaml:6:29: services.b.ports[0]: host port 53 is already published by services.a.ports[0]" },
        { B "ports: [\"127.0.0.1:80:80\", \"0.0.0.0:80:81\"]\n",
          "t.yaml:4:28: ports[1]: host port 80 is already published by ports[0]" },
        { B "ports: [\"53:53/udp\", \"53:53\", \"53:5353/udp\"]\n",
          "t.yaml:4:31: ports[2]: host port 53/udp is already published by ports[0]" },
        { B "ports: [\"53:53/udp\"]\n" SVC "ports: [\"0.0.0.0:53:53/udp\"]}\n",
          "t.yaml:6:29: services.a.ports[0]: host port 53/udp is already published by ports[0]" },
        { B "ports: [\"53:53/sctp\"]\n", "t.yaml:4:9: ports[0]: " PORT_RULE ", got \"53:53/sctp\"" },
        /* security */
        { B "security: {seccomp: defualt}\n",
          "t.yaml:4:21: security.seccomp: expected default, unconfined or a path to a JSON profile, got \"defualt\"; "
          "did you mean \"default\"?" },
        { B "security: {seccomp: ./nope.json}\n",
          "t.yaml:4:21: security.seccomp: seccomp profile /base/nope.json: No such file or directory" },
        { B "security: {capabilities: {add: [NET_ADMN]}}\n",
          "t.yaml:4:33: security.capabilities.add[0]: expected a capability name like NET_ADMIN, got \"NET_ADMN\"; "
          "did you mean \"NET_ADMIN\"?" },
        { B "security: {capabilities: {add: [ALL]}}\n",
          "t.yaml:4:33: security.capabilities.add[0]: ALL may only be dropped, not added" },
        { B "security: {capabilities: {drop: [net_raw, CAP_NET_RAW]}}\n",
          "t.yaml:4:43: security.capabilities.drop[1]: NET_RAW is listed twice" },
        /* services */
        { B "services: [a]\n",
          "t.yaml:4:11: services: expected a mapping of service names to services, got a list" },
        { B "services:\n  Web: {command: [x]}\n",
          "t.yaml:5:3: services.Web: expected a service name matching [a-z0-9][a-z0-9-]{0,62}, got \"Web\"" },
        { B "services:\n  web: {user: x}\n", "t.yaml:5:3: services.web.command: required key is missing (only an OCI image's Entrypoint and Cmd can stand for it)" },
        { B "services:\n  web: {command: []}\n",
          "t.yaml:5:18: services.web.command: expected a command as a list of strings like [python3, -m, worker], "
          "got an empty list" },
        { B "services:\n  web: {command: python3 -m worker}\n",
          "t.yaml:5:18: services.web.command: expected a command as a list of strings like [python3, -m, worker], "
          "got \"python3 -m worker\"" },
        { B "services:\n  postgres: {command: [pg]}\n  web: {command: [x], depends_on: [postgress]}\n",
          "t.yaml:6:36: services.web.depends_on[0]: no service named \"postgress\"; did you mean \"postgres\"?" },
        { B "services:\n  a: {command: [x], depends_on: [b]}\n  b: {command: [x], depends_on: [a]}\n",
          "t.yaml:6:34: services.b.depends_on[0]: dependency cycle: a -> b -> a" },
        { B SVC "depends_on: [a]}\n", "t.yaml:5:34: services.a.depends_on[0]: dependency cycle: a -> a" },
        { B SVC "depends_on: [b]}\n  b: {command: [x], depends_on: [c]}\n  c: {command: [x], depends_on: [a]}\n",
          "t.yaml:7:34: services.c.depends_on[0]: dependency cycle: a -> b -> c -> a" },
        { B "services:\n  a: {command: [x]}\n  b: {command: [x], depends_on: [a, a]}\n",
          "t.yaml:6:37: services.b.depends_on[1]: a is listed twice" },
        { B SVC "healthcheck: {interval: 1s}}\n",
          "t.yaml:5:34: services.a.healthcheck.command: required key is missing" },
        { B SVC "healthcheck: {command: [x], interval: 0s}}\n",
          "t.yaml:5:59: services.a.healthcheck.interval: expected a duration above 0 like 1s, got \"0s\"" },
        { B SVC "healthcheck: {command: [x], retries: 0}}\n",
          "t.yaml:5:58: services.a.healthcheck.retries: expected a number of retries from 1 to 1000000, got \"0\"" },
        { B SVC "restart: sometimes}\n",
          "t.yaml:5:30: services.a.restart: expected no, on-failure or always, got \"sometimes\"" },
        { B SVC "stop_timeout: 10}\n",
          "t.yaml:5:35: services.a.stop_timeout: expected a duration like 10s (units ms s m h), got \"10\"" },
        { B SVC "stop_timeout: 5d}\n",
          "t.yaml:5:35: services.a.stop_timeout: expected a duration like 10s (units ms s m h), got \"5d\"" },
        { B SVC "image: []}\n", "t.yaml:5:28: services.a.image: expected a list of layers, got an empty list" },
        { B SVC "entrypoint: [x]}\n",
          "t.yaml:5:21: services.a.entrypoint: unknown key; expected one of image, command, user, workdir, env, "
          "mounts, ports, healthcheck, restart, stop_timeout, resources, depends_on" },
};
