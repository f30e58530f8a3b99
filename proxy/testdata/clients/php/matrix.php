<?php
// Client-matrix checks for PHP's PDO and mysqli (mysqlnd).
// Usage: php matrix.php pdo|mysqli CHECK...; connection from RDSMUX_* env.
// Prints one JSON line per check: {"check", "ok", "detail"}.

$api = $argv[1];
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);

function env($k) { $v = getenv($k); return $v === false ? '' : $v; }

function pdo_connect(array $opts = [], string $charset = '') {
    $dsn = 'mysql:host=' . env('RDSMUX_HOST') . ';port=' . env('RDSMUX_PORT');
    if (env('RDSMUX_DB') !== '') $dsn .= ';dbname=' . env('RDSMUX_DB');
    if ($charset !== '') $dsn .= ';charset=' . $charset;
    $opts += [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_TIMEOUT => 10];
    return new PDO($dsn, env('RDSMUX_USER'), env('RDSMUX_PASS'), $opts);
}

function mysqli_connect_env(int $flags = 0, array $options = []) {
    $m = mysqli_init();
    $m->options(MYSQLI_OPT_CONNECT_TIMEOUT, 10);
    foreach ($options as $k => $v) $m->options($k, $v);
    $db = env('RDSMUX_DB') === '' ? null : env('RDSMUX_DB');
    $m->real_connect(env('RDSMUX_HOST'), env('RDSMUX_USER'), env('RDSMUX_PASS'), $db, (int)env('RDSMUX_PORT'), null, $flags);
    return $m;
}

function err_detail(Throwable $e) {
    if ($e instanceof PDOException) {
        $info = $e->errorInfo;
        return ['code' => $info[1] ?? $e->getCode(), 'state' => $info[0] ?? null, 'message' => $info[2] ?? $e->getMessage()];
    }
    if ($e instanceof mysqli_sql_exception) {
        return ['code' => $e->getCode(), 'state' => $e->getSqlState(), 'message' => $e->getMessage()];
    }
    return ['message' => get_class($e) . ': ' . $e->getMessage()];
}

$checks = [];

$checks['probe'] = function () use ($api) {
    try {
        if ($api === 'pdo') {
            $c = pdo_connect();
            $c->query(env('RDSMUX_SQL'))->fetchAll();
        } else {
            $c = mysqli_connect_env();
            $c->query(env('RDSMUX_SQL'));
        }
        return [true, 'no error'];
    } catch (Throwable $e) {
        return [false, err_detail($e)];
    }
};

foreach (array_slice($argv, 2) as $name) {
    $ok = false;
    if (!isset($checks[$name])) {
        $detail = 'unknown check';
    } else {
        try {
            [$ok, $detail] = $checks[$name]();
        } catch (Throwable $e) {
            $detail = err_detail($e);
        }
    }
    echo json_encode(['check' => $name, 'ok' => (bool)$ok, 'detail' => $detail], JSON_INVALID_UTF8_SUBSTITUTE), "\n";
}
