"""The cloud CLI command lines of a shell script, checked against the clouds' own API descriptions: for
`aws`, the CLI's command and argument tables (awscli, built from botocore's service models); for
`aliyun`, the request classes of Alibaba Cloud's Python SDK (one per API operation, a setter per
parameter). A misspelt service, operation, waiter or option, a missing required option (aws), or an
option without its value fails here instead of during a failover."""

from __future__ import annotations

import functools
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import jmespath
from awscli.clidriver import create_clidriver

# Shell words that end a command: pipes, lists, substitutions, redirections.
_ENDS = {"|", "||", "&&", ";", ")", "(", ">", ">>", "<", "&"}


@dataclass(frozen=True)
class Command:
    line: int
    words: tuple[str, ...]

    def option(self, name: str) -> str:
        return self.words[self.words.index(name) + 1]


def _complete(line: str) -> bool:
    try:
        shlex.split(line)
    except ValueError:  # a quote still open: the word goes on on the next line
        return False
    return True


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with backslash continuations and multi-line quoted words joined, numbered by their first
    physical line; comments dropped."""
    lines, start, current = [], 0, ""
    for number, raw in enumerate(text.splitlines(), 1):
        if not current:
            start = number
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        current += raw
        if not current.lstrip().startswith("#") and not _complete(current):
            current += "\n"
            continue
        if not current.lstrip().startswith("#"):
            lines.append((start, current))
        current = ""
    return lines


def aws_commands(text: str, program: str = "aws") -> list[Command]:
    found = []
    for number, line in logical_lines(text):
        if not re.search(rf"(^|[|(;&]|\$\()\s*{program}\s", line):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        for i, word in enumerate(words):
            if word == program and (i == 0 or words[i - 1] in _ENDS or words[i - 1].endswith("$")):
                end = next((j for j in range(i + 1, len(words)) if words[j] in _ENDS), len(words))
                found.append(Command(number, tuple(words[i:end])))
    return found


@functools.lru_cache(maxsize=None)
def _driver():
    return create_clidriver()


def operation_arguments(service: str, operation: str, waiter: str | None = None) -> dict:
    table = _driver()._get_command_table()
    if service not in table:
        raise ValueError(f"aws {service}: no such service")
    operations = table[service]._get_command_table()
    if operation not in operations:
        raise ValueError(f"aws {service} {operation}: no such operation")
    command = operations[operation]
    if waiter is not None:
        if waiter not in command.subcommand_table:
            raise ValueError(f"aws {service} wait {waiter}: no such waiter")
        command = command.subcommand_table[waiter]
    return command.arg_table


def problems(command: Command) -> list[str]:
    words = list(command.words[1:])
    where = f"line {command.line}: aws {' '.join(words[:2])}"
    if len(words) < 2:
        return [f"{where}: needs a service and an operation"]
    service, operation, rest = words[0], words[1], words[2:]
    waiter = None
    if operation == "wait":
        if not rest:
            return [f"{where}: wait needs a waiter name"]
        waiter, rest = rest[0], rest[1:]
    try:
        arguments = operation_arguments(service, operation, waiter)
    except ValueError as error:
        return [f"line {command.line}: {error}"]
    globals_ = _driver()._get_argument_table()
    found, given = [], set()
    i = 0
    while i < len(rest):
        word = rest[i]
        if not word.startswith("--"):
            found.append(f"{where}: {word!r} is not an option (a value without its option?)")
            i += 1
            continue
        name = word[2:]
        argument = arguments.get(name) or globals_.get(name)
        if argument is None:
            found.append(f"{where}: no option --{name}")
            i += 1
            continue
        given.add(name)
        takes_value = getattr(argument, "cli_type_name", "") != "boolean" and name not in ("debug", "no-paginate",
                                                                                         "no-verify-ssl",
                                                                                         "no-sign-request")
        i += 1
        if not takes_value:
            continue
        values = 0
        while i < len(rest) and not rest[i].startswith("--"):
            values += 1
            i += 1
        if values == 0:
            found.append(f"{where}: --{name} needs a value")
        if name == "query":
            try:
                jmespath.compile(rest[i - 1])
            except jmespath.exceptions.JMESPathError as error:
                found.append(f"{where}: --query is not JMESPath: {error}")
    if "cli-input-json" not in given:
        for name, argument in arguments.items():
            if argument.required and name not in given:
                found.append(f"{where}: --{name} is required")
    return found


def script_problems(path: Path) -> list[str]:
    return [problem for command in aws_commands(path.read_text()) for problem in problems(command)]


# aliyun product -> (SDK package, API version the CLI calls by default).
ALIYUN_PRODUCTS = {"rds": ("aliyunsdkrds", "v20140815"), "ram": ("aliyunsdkram", "v20150501"),
                   "alidns": ("aliyunsdkalidns", "v20150109")}
# Parameters every RPC call takes, and the CLI's own flags (`--waiter expr=... to=...`).
ALIYUN_COMMON = {"RegionId"}
ALIYUN_FLAGS = {"waiter", "region", "profile", "output", "quiet", "endpoint"}


def aliyun_parameters(product: str, operation: str) -> set[str]:
    import importlib

    if product not in ALIYUN_PRODUCTS:
        raise ValueError(f"aliyun {product}: no SDK known for this product")
    package, version = ALIYUN_PRODUCTS[product]
    try:
        module = importlib.import_module(f"{package}.request.{version}.{operation}Request")
    except ModuleNotFoundError:
        raise ValueError(f"aliyun {product} {operation}: no such operation") from None
    request = getattr(module, f"{operation}Request")()
    return {name[4:] for name in dir(request) if name.startswith("set_") and name[4].isupper()}


def aliyun_option_problems(product: str, operation: str, options: list[str], where: str) -> list[str]:
    try:
        parameters = aliyun_parameters(product, operation) | ALIYUN_COMMON
    except ValueError as error:
        return [f"{where}: {error}"]
    found = []
    i = 0
    while i < len(options):
        word = options[i]
        if not word.startswith("--"):
            if not word.startswith("${"):  # an array of options, checked where it is assigned
                found.append(f"{where}: {word!r} is not an option (a value without its option?)")
            i += 1
            continue
        name = word[2:]
        if name not in parameters and name not in ALIYUN_FLAGS:
            found.append(f"{where}: no parameter --{name}")
        i += 1
        values = 0
        while i < len(options) and not options[i].startswith("--") and not options[i].startswith("${"):
            values += 1
            i += 1
        if values == 0:
            found.append(f"{where}: --{name} needs a value")
    return found


def aliyun_problems(command: Command) -> list[str]:
    words = list(command.words[1:])
    if len(words) < 2:
        return [f"line {command.line}: aliyun needs a product and an operation"]
    where = f"line {command.line}: aliyun {words[0]} {words[1]}"
    return aliyun_option_problems(words[0], words[1], words[2:], where)
