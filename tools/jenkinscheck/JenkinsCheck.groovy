// JenkinsCheck parses a declarative Jenkinsfile with the Groovy compiler (to
// the CONVERSION phase: syntax and AST, no class resolution, so no Jenkins
// plugins are needed) and walks its AST to check what Jenkins would only
// report when a build starts, plus this project's rules:
//
//   - one top-level `pipeline {}` and nothing else; only known sections in it;
//     `agent` and `stages` present; the options this project requires;
//   - every stage has exactly one of steps/stages/parallel/matrix, steps are
//     not empty, stage names are unique, sections are known;
//   - post blocks hold only known conditions, each with steps;
//   - with `agent none`, a stage that runs node steps (sh, checkout, junit…)
//     has an agent of its own or from an enclosing stage;
//   - every `sh` runs a make target (the logic lives in the Makefile), and
//     each target exists (`make -n TARGET` succeeds);
//   - every `yamlFile` exists; the paths are printed for the pod check;
//   - environment entries that look like secrets come from credentials();
//     no credential is interpolated into a Groovy string (it would reach the
//     log or a process's argument list).
//
// Usage (run from the repository root; scripts/jenkins-check.sh does this):
//   groovy JenkinsCheck.groovy [--refs FILE] Jenkinsfile
//       exit 1 and one line per problem; with --refs, the referenced pod
//       YAML files are written to FILE, one a line.
//   groovy JenkinsCheck.groovy --fixtures DIR
//       every *.Jenkinsfile in DIR must fail with each message named by its
//       `// expect: TEXT` lines; prints "N passed, N failed".
// Written for Groovy 2.4 (Debian) and later; only the compiler's AST API.

import org.codehaus.groovy.ast.ASTNode
import org.codehaus.groovy.ast.ModuleNode
import org.codehaus.groovy.ast.expr.ArgumentListExpression
import org.codehaus.groovy.ast.expr.BinaryExpression
import org.codehaus.groovy.ast.expr.ClosureExpression
import org.codehaus.groovy.ast.expr.ConstantExpression
import org.codehaus.groovy.ast.expr.Expression
import org.codehaus.groovy.ast.expr.GStringExpression
import org.codehaus.groovy.ast.expr.MapExpression
import org.codehaus.groovy.ast.expr.MethodCallExpression
import org.codehaus.groovy.ast.expr.PropertyExpression
import org.codehaus.groovy.ast.expr.TupleExpression
import org.codehaus.groovy.ast.expr.VariableExpression
import org.codehaus.groovy.ast.CodeVisitorSupport
import org.codehaus.groovy.ast.stmt.BlockStatement
import org.codehaus.groovy.ast.stmt.ExpressionStatement
import org.codehaus.groovy.ast.stmt.Statement
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.MultipleCompilationErrorsException
import org.codehaus.groovy.control.Phases

class Checker {
    static final Set PIPELINE_SECTIONS = ['agent', 'environment', 'options', 'parameters', 'triggers',
                                          'tools', 'stages', 'post', 'libraries'] as Set
    static final Set STAGE_SECTIONS = ['agent', 'environment', 'input', 'options', 'when', 'tools',
                                       'post', 'steps', 'stages', 'parallel', 'matrix', 'failFast'] as Set
    static final Set BODIES = ['steps', 'stages', 'parallel', 'matrix'] as Set
    static final Set POST_CONDITIONS = ['always', 'changed', 'fixed', 'regression', 'aborted', 'failure',
                                        'success', 'unstable', 'unsuccessful', 'cleanup', 'notBuilt'] as Set
    static final Set WHEN_CONDITIONS = ['branch', 'buildingTag', 'changelog', 'changeset', 'changeRequest',
                                        'environment', 'equals', 'expression', 'tag', 'not', 'allOf', 'anyOf',
                                        'triggeredBy', 'beforeAgent', 'beforeInput', 'beforeOptions'] as Set
    // Options every pipeline of this project sets.
    static final List REQUIRED_OPTIONS = ['timeout', 'buildDiscarder', 'disableConcurrentBuilds', 'timestamps']
    // Steps that need no workspace: allowed in a stage without an agent.
    static final Set AGENTLESS_STEPS = ['input', 'echo', 'milestone', 'timeout', 'script', 'error',
                                        'mail', 'emailext', 'slackSend', 'lock', 'sleep'] as Set
    static final Set CREDENTIAL_VARIABLE_KEYS = ['variable', 'usernameVariable', 'passwordVariable',
                                                 'keyFileVariable', 'passphraseVariable', 'credentialsId'] as Set

    File makeDir
    List<String> errors = []
    List<String> yamlFiles = []
    Set<String> makeTargets = new LinkedHashSet<String>()
    Map<String, Integer> targetLines = [:]
    Set<String> stageNames = new HashSet<String>()
    Set<String> secretVars = new HashSet<String>()
    boolean agentNone = false

    void err(ASTNode node, String msg) {
        errors << ((node != null && node.lineNumber > 0) ? "line ${node.lineNumber}: ${msg}" : msg)
    }

    // check parses file and fills errors; it never throws on bad input.
    void check(File file) {
        ModuleNode module
        try {
            def unit = new CompilationUnit(new CompilerConfiguration())
            unit.addSource(file)
            unit.compile(Phases.CONVERSION)
            module = unit.AST.modules[0]
        } catch (MultipleCompilationErrorsException e) {
            def first = e.errorCollector.errors ? e.errorCollector.errors[0] : null
            def text = first?.hasProperty('cause') && first.cause ? first.cause.message : e.message
            errors << "syntax: ${text.readLines()[0]}"
            return
        }
        if (!module.classes.findAll { !it.isScript() }.isEmpty()) {
            err(null, 'top level: classes are not allowed in a Jenkinsfile')
        }
        def pipelines = []
        for (Statement st : module.statementBlock.statements) {
            def call = sectionCall(st)
            if (call != null && call.methodAsString == 'pipeline') {
                pipelines << call
            } else {
                err(st, 'top level: only `pipeline { }` is allowed (declarative)')
            }
        }
        if (pipelines.size() != 1) {
            err(null, "top level: exactly one pipeline block expected, found ${pipelines.size()}")
            return
        }
        checkPipeline(pipelines[0])
        checkSecretsNotInterpolated(module.statementBlock)
        checkMakeTargets()
    }

    // sectionCall returns the call `name(args) { }` or `name args` of a
    // statement, or null when the statement is something else.
    static MethodCallExpression sectionCall(Statement st) {
        if (st instanceof ExpressionStatement && st.expression instanceof MethodCallExpression) {
            def call = (MethodCallExpression) st.expression
            if (call.implicitThis) return call
        }
        return null
    }

    static List<Expression> args(MethodCallExpression call) {
        def a = call.arguments
        if (a instanceof TupleExpression) return ((TupleExpression) a).expressions
        return [a]
    }

    static ClosureExpression body(MethodCallExpression call) {
        def last = args(call) ? args(call)[-1] : null
        return last instanceof ClosureExpression ? (ClosureExpression) last : null
    }

    static List<Statement> statements(ClosureExpression c) {
        def code = c.code
        if (code instanceof BlockStatement) return ((BlockStatement) code).statements
        return code == null ? [] : [code]
    }

    // sections lists the calls in a declarative block; anything else is an error.
    List<MethodCallExpression> sections(ClosureExpression c, String where) {
        def out = []
        for (Statement st : statements(c)) {
            def call = sectionCall(st)
            if (call == null) {
                err(st, "${where}: only sections are allowed here, not code")
            } else {
                out << call
            }
        }
        return out
    }

    Map<String, MethodCallExpression> uniqueSections(List<MethodCallExpression> calls, Set allowed, String where) {
        def seen = [:]
        for (def call : calls) {
            def name = call.methodAsString
            if (!allowed.contains(name)) {
                err(call, "${where}: unknown section '${name}'")
            } else if (seen.containsKey(name)) {
                err(call, "${where}: section '${name}' appears twice")
            } else {
                seen[name] = call
            }
        }
        return seen
    }

    void checkPipeline(MethodCallExpression pipeline) {
        def c = body(pipeline)
        if (c == null) {
            err(pipeline, 'pipeline: needs a block { }')
            return
        }
        def s = uniqueSections(sections(c, 'pipeline'), PIPELINE_SECTIONS, 'pipeline')
        if (!s.agent) err(pipeline, 'pipeline: agent is required (use `agent none` and an agent per stage)')
        else agentNone = isAgentNone(s.agent)
        if (s.agent) checkAgent(s.agent, 'pipeline')
        if (s.environment) checkEnvironment(s.environment, 'pipeline')
        def opts = s.options ? sections(body(s.options) ?: new ClosureExpression(null, null), 'options')*.methodAsString : []
        for (String o : REQUIRED_OPTIONS) {
            if (!opts.contains(o)) err(s.options ?: pipeline, "pipeline: options must set ${o}")
        }
        if (!s.stages) {
            err(pipeline, 'pipeline: stages is required')
        } else {
            checkStages(s.stages, 'pipeline', !agentNone)
        }
        if (s.post) checkPost(s.post, 'pipeline', !agentNone)
    }

    static boolean isAgentNone(MethodCallExpression agent) {
        def a = args(agent)
        return a.size() == 1 && a[0] instanceof VariableExpression && ((VariableExpression) a[0]).name == 'none'
    }

    void checkAgent(MethodCallExpression agent, String where) {
        if (isAgentNone(agent)) return
        def a = args(agent)
        if (a.size() == 1 && a[0] instanceof VariableExpression && ((VariableExpression) a[0]).name == 'any') return
        def c = body(agent)
        if (c == null) {
            err(agent, "${where}: agent must be none, any or a block")
            return
        }
        // Collect yamlFile 'path' anywhere inside the agent block.
        c.code.visit(new CodeVisitorSupport() {
            void visitMethodCallExpression(MethodCallExpression call) {
                if (call.methodAsString == 'yamlFile') {
                    def v = args(call)
                    if (v.size() == 1 && v[0] instanceof ConstantExpression && v[0].value instanceof String) {
                        yamlFiles << (String) v[0].value
                    } else {
                        err(call, "${where}: yamlFile needs a literal path")
                    }
                }
                super.visitMethodCallExpression(call)
            }
        })
    }

    void checkEnvironment(MethodCallExpression env, String where) {
        def c = body(env)
        if (c == null) {
            err(env, "${where}: environment needs a block")
            return
        }
        for (Statement st : statements(c)) {
            def e = st instanceof ExpressionStatement ? ((ExpressionStatement) st).expression : null
            if (!(e instanceof BinaryExpression) || ((BinaryExpression) e).operation.text != '=' ||
                    !(((BinaryExpression) e).leftExpression instanceof VariableExpression)) {
                err(st, "${where}: environment holds only NAME = value")
                continue
            }
            def b = (BinaryExpression) e
            def name = ((VariableExpression) b.leftExpression).name
            def fromCredentials = b.rightExpression instanceof MethodCallExpression &&
                    ((MethodCallExpression) b.rightExpression).methodAsString == 'credentials'
            if (fromCredentials) {
                secretVars << name
            } else if (name =~ /(?i)(SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE|API_?KEY|ACCESS_KEY)/) {
                err(st, "${where}: ${name} looks like a secret: bind it with credentials('id')")
            }
        }
    }

    void checkStages(MethodCallExpression stages, String where, boolean hasAgent) {
        def c = body(stages)
        if (c == null) {
            err(stages, "${where}: stages needs a block")
            return
        }
        def list = sections(c, "${where} stages")
        if (list.isEmpty()) err(stages, "${where}: stages is empty")
        for (def call : list) {
            if (call.methodAsString != 'stage') {
                err(call, "${where}: only stage('name') { } is allowed in stages/parallel, not '${call.methodAsString}'")
                continue
            }
            checkStage(call, hasAgent)
        }
    }

    void checkStage(MethodCallExpression stage, boolean hasAgent) {
        def a = args(stage)
        if (a.size() != 2 || !(a[0] instanceof ConstantExpression) || !(a[0].value instanceof String)) {
            err(stage, "stage: needs a literal name and a block: stage('name') { }")
            return
        }
        String name = a[0].value
        String where = "stage '${name}'"
        if (!stageNames.add(name)) err(stage, "${where}: stage names must be unique")
        def c = body(stage)
        if (c == null) {
            err(stage, "${where}: needs a block")
            return
        }
        def s = uniqueSections(sections(c, where), STAGE_SECTIONS, where)
        def own = s.keySet().intersect(BODIES)
        if (own.size() != 1) {
            err(stage, "${where}: needs exactly one of steps, stages, parallel, matrix (has ${own ? own.sort().join(', ') : 'none'})")
        }
        boolean agentHere = hasAgent
        if (s.agent) {
            checkAgent(s.agent, where)
            agentHere = !isAgentNone(s.agent)
        }
        if (s.environment) checkEnvironment(s.environment, where)
        if (s.when) checkWhen(s.when, where)
        if (s.steps) checkSteps(s.steps, where, agentHere)
        if (s.stages) checkStages(s.stages, where, agentHere)
        if (s.parallel) checkStages(s.parallel, where, agentHere)
        if (s.post) checkPost(s.post, where, agentHere)
    }

    void checkWhen(MethodCallExpression when, String where) {
        def c = body(when)
        if (c == null || statements(c).isEmpty()) {
            err(when, "${where}: when needs conditions")
            return
        }
        checkConditions(c, where)
    }

    // checkConditions checks the conditions of a when block, and of the
    // not/allOf/anyOf inside it; expression { } bodies are code, not checked.
    void checkConditions(ClosureExpression c, String where) {
        for (def call : sections(c, "${where} when")) {
            def name = call.methodAsString
            if (!WHEN_CONDITIONS.contains(name)) {
                err(call, "${where}: unknown when condition '${name}'")
            } else if (name in ['not', 'allOf', 'anyOf']) {
                def b = body(call)
                if (b == null || statements(b).isEmpty()) err(call, "${where}: ${name} needs conditions")
                else checkConditions(b, where)
            }
        }
    }

    void checkSteps(MethodCallExpression steps, String where, boolean hasAgent) {
        def c = body(steps)
        if (c == null || statements(c).isEmpty()) {
            err(steps, "${where}: steps is empty")
            return
        }
        checkStepCalls(c, where, hasAgent)
    }

    void checkStepCalls(ClosureExpression c, String where, boolean hasAgent) {
        c.code.visit(new CodeVisitorSupport() {
            void visitMethodCallExpression(MethodCallExpression call) {
                def m = call.methodAsString
                if (call.implicitThis && m != null && !hasAgent && !AGENTLESS_STEPS.contains(m) &&
                        !(m in ['withCredentials', 'withEnv', 'container', 'dir', 'catchError',
                                'retry', 'waitUntil', 'warnError', 'parallel'])) {
                    err(call, "${where}: '${m}' needs an agent, but this stage has none (pipeline uses agent none)")
                }
                if (call.implicitThis && m == 'sh') checkSh(call, where)
                if (call.implicitThis && m == 'withCredentials') collectBindings(call)
                super.visitMethodCallExpression(call)
            }
        })
    }

    void collectBindings(MethodCallExpression call) {
        call.arguments.visit(new CodeVisitorSupport() {
            void visitMapExpression(MapExpression map) {
                for (def entry : map.mapEntryExpressions) {
                    def k = entry.keyExpression
                    def v = entry.valueExpression
                    if (k instanceof ConstantExpression && CREDENTIAL_VARIABLE_KEYS.contains(k.value) &&
                            k.value != 'credentialsId' && v instanceof ConstantExpression) {
                        secretVars << (String) v.value
                    }
                }
                super.visitMapExpression(map)
            }
        })
    }

    // shText returns the script of an sh step, with GString values as ${…}.
    static String shText(MethodCallExpression call) {
        def a = args(call)
        Expression e = a ? a[0] : null
        if (e instanceof MapExpression) {
            e = ((MapExpression) e).mapEntryExpressions.find { it.keyExpression.text == 'script' }?.valueExpression
        }
        if (e instanceof ConstantExpression && e.value instanceof String) return (String) e.value
        if (e instanceof GStringExpression) {
            def g = (GStringExpression) e
            def sb = new StringBuilder()
            g.strings.eachWithIndex { s, i ->
                sb.append(s.value)
                if (i < g.values.size()) sb.append('${…}')
            }
            return sb.toString()
        }
        return null
    }

    void checkSh(MethodCallExpression call, String where) {
        def text = shText(call)
        if (text == null) {
            err(call, "${where}: sh needs a literal script")
            return
        }
        def script = text.trim()
        if (!(script ==~ /(?s)make\s+.*/)) {
            err(call, "${where}: sh must run a make target (the logic lives in the Makefile): ${script.readLines()[0]}")
            return
        }
        if (script.contains('\n') || script =~ /[;&|`]|\$\(/) {
            err(call, "${where}: sh runs one make command; put sequences in a target")
            return
        }
        def targets = []
        for (String tok : script.split(/\s+/).drop(1)) {
            if (tok.startsWith('-') || tok.contains('=')) continue
            targets << tok
        }
        if (targets.isEmpty()) err(call, "${where}: make without a target")
        for (String t : targets) {
            makeTargets << t
            if (!targetLines.containsKey(t)) targetLines[t] = call.lineNumber
        }
    }

    void checkPost(MethodCallExpression post, String where, boolean hasAgent) {
        def c = body(post)
        if (c == null) {
            err(post, "${where}: post needs a block")
            return
        }
        def s = uniqueSections(sections(c, "${where} post"), POST_CONDITIONS, "${where} post")
        if (s.isEmpty()) err(post, "${where}: post has no conditions")
        s.each { cond, call ->
            def b = body(call)
            if (b == null || statements(b).isEmpty()) {
                err(call, "${where} post: ${cond} has no steps")
            } else {
                checkStepCalls(b, "${where} post ${cond}", hasAgent)
            }
        }
    }

    // checkSecretsNotInterpolated flags "${SECRET}" anywhere: Groovy would put
    // the value into the command line or log; sh must read it from its env.
    void checkSecretsNotInterpolated(BlockStatement block) {
        block.visit(new CodeVisitorSupport() {
            void visitGStringExpression(GStringExpression g) {
                for (Expression v : g.values) {
                    String name = null
                    if (v instanceof VariableExpression) name = ((VariableExpression) v).name
                    if (v instanceof PropertyExpression) name = ((PropertyExpression) v).propertyAsString
                    if (name != null && secretVars.contains(name)) {
                        err(g, "credential ${name} is interpolated into a Groovy string; use '\$${name}' in single quotes")
                    }
                }
                super.visitGStringExpression(g)
            }
        })
    }

    void checkMakeTargets() {
        if (makeDir == null) return
        for (String t : makeTargets) {
            def pb = new ProcessBuilder('make', '-n', '--no-print-directory', '-C', makeDir.path, t)
            pb.redirectErrorStream(true)
            def p = pb.start()
            def out = p.inputStream.text
            if (p.waitFor() != 0) {
                errors << "line ${targetLines[t]}: make target '${t}' does not exist or fails: ${out.readLines().find { it.contains('***') } ?: out.trim()}"
            }
        }
        for (String y : yamlFiles) {
            if (!new File(makeDir, y).isFile()) errors << "yamlFile ${y}: no such file"
        }
    }
}

def usage = 'usage: JenkinsCheck.groovy [--refs FILE] Jenkinsfile | --fixtures DIR'
def argv = args as List
File makeDir = new File('.').canonicalFile

if (argv.size() == 2 && argv[0] == '--fixtures') {
    def dir = new File(argv[1])
    def files = (dir.listFiles() ?: []).findAll { it.name.endsWith('.Jenkinsfile') }.sort { it.name }
    if (files.isEmpty()) {
        System.err.println("jenkinscheck: no *.Jenkinsfile in ${dir}")
        System.exit(1)
    }
    int passed = 0, failed = 0
    for (File f : files) {
        def expects = f.readLines().findAll { it.startsWith('// expect: ') }.collect { it.substring(11).trim() }
        def c = new Checker(makeDir: makeDir)
        c.check(f)
        def missing = expects.findAll { want -> !c.errors.any { it.contains(want) } }
        if (expects.isEmpty()) {
            println "FAIL ${f.name}: no '// expect:' line"
            failed++
        } else if (missing) {
            println "FAIL ${f.name}: expected ${missing.collect { "'${it}'" }.join(', ')}; got:"
            c.errors.each { println "       ${it}" }
            failed++
        } else {
            println "ok   ${f.name} rejected: ${c.errors.find { e -> expects.any { e.contains(it) } }}"
            passed++
        }
    }
    println "jenkinscheck fixtures: ${passed} passed, ${failed} failed"
    System.exit(failed == 0 ? 0 : 1)
}

File refs = null
if (argv.size() == 3 && argv[0] == '--refs') {
    refs = new File(argv[1])
    argv = argv.drop(2)
}
if (argv.size() != 1) {
    System.err.println(usage)
    System.exit(2)
}
def file = new File(argv[0])
if (!file.isFile()) {
    System.err.println("jenkinscheck: ${file}: no such file")
    System.exit(2)
}
def c = new Checker(makeDir: makeDir)
c.check(file)
if (c.errors) {
    c.errors.each { System.err.println("${file.name}: ${it}") }
    System.exit(1)
}
if (refs != null) refs.text = c.yamlFiles.unique().collect { it + '\n' }.join('')
println "jenkinscheck: ${file.name}: ${c.stageNames.size()} stages, make targets ${c.makeTargets.join(' ')}, ${c.yamlFiles.unique().size()} pod templates"
